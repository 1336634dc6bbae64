#!/usr/bin/env bash
# Regenerates into the work tree and fails, showing the difference, when the
# committed protos, generated Go code or OpenAPI document are not exactly
# what scripts/generate.sh produces. Run it on a clean checkout (as CI does):
# uncommitted changes under the checked paths count as a difference.
set -euo pipefail

cd "$(dirname "$0")/.."

paths=(proto gen api/openapi)

scripts/generate.sh

changes=$(git status --porcelain --untracked-files=all -- "${paths[@]}")
if [[ -n "$changes" ]]; then
	echo "check-generated: generated files are out of date." >&2
	echo "Run scripts/generate.sh (make generate) and commit the result." >&2
	echo "$changes" >&2
	git --no-pager diff -- "${paths[@]}" >&2
	exit 1
fi
echo "check-generated: generated files are up to date."
