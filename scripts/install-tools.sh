#!/usr/bin/env bash
# Downloads and builds the code generation tools pinned in tools/go.mod (buf
# and the protoc plugins) into Go's build cache, where `go tool` finds them.
# Optional: the other scripts build a missing tool on first use; this just
# does it once, up front. Idempotent; needs Go and the Go module proxy only.
set -euo pipefail

cd "$(dirname "$0")/.."

go mod download -modfile=tools/go.mod
for t in buf protoc-gen-go protoc-gen-go-grpc protoc-gen-grpc-gateway protoc-gen-openapiv2; do
	printf '%-24s ' "$t"
	go tool -modfile=tools/go.mod "$t" --version
done
