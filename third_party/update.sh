#!/usr/bin/env bash
# Rewrites third_party/ from the descriptors compiled into the Go modules
# pinned in tools/go.mod, then proves the printed files compile back to the
# same descriptors. Needs only Go (no network beyond the Go module proxy).
set -euo pipefail

cd "$(dirname "$0")/.."

tool() { go tool -modfile=tools/go.mod "$@"; }

rm -rf third_party/buf third_party/google
(cd tools && go run ./cmd/protosrc -out ../third_party)
tool buf format -w third_party

image=$(mktemp)
trap 'rm -f "$image"' EXIT
tool buf build third_party --as-file-descriptor-set -o "$image"
(cd tools && go run ./cmd/protosrc -verify "$image")
