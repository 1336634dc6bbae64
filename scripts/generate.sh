#!/usr/bin/env bash
# Regenerates everything derived from proto/: the Go code in gen/ and the
# OpenAPI document in api/openapi/. It needs only Go: buf and the protoc
# plugins are pinned in tools/go.mod and built by `go tool` on first use
# (scripts/install-tools.sh builds them ahead of time).
set -euo pipefail

cd "$(dirname "$0")/.."

tool() { go tool -modfile=tools/go.mod "$@"; }

# Formatting is part of generation; scripts/check-generated.sh catches a
# committed proto that was not formatted.
tool buf format -w proto
tool buf lint

# Remove earlier output so that a deleted proto leaves no stale file behind.
# Only generated files go: hand-written ones (api/openapi/openapi.go, tests)
# live next to them.
find gen -type f \( -name '*.pb.go' -o -name '*.pb.gw.go' \) -delete 2>/dev/null || true
find api/openapi -type f -name '*.swagger.json' -delete 2>/dev/null || true

tool buf generate
