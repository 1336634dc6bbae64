#!/usr/bin/env bash
# Fails when the protos in the work tree break wire or JSON compatibility
# (buf.yaml's breaking rules) with the protos of the previous commit, HEAD~1.
# Stored event payloads and clients both depend on that compatibility, so a
# breaking change must become a new message or a new package version instead.
#
# Runs offline: buf reads HEAD~1 from the local repository. It passes, with a
# note, when there is nothing to compare against: no previous commit (a root
# commit or a shallow clone of depth 1) or a previous commit without proto/.
set -euo pipefail

cd "$(dirname "$0")/.."

against=HEAD~1
if ! git rev-parse --quiet --verify "$against^{commit}" >/dev/null; then
	echo "check-breaking: no $against to compare against (root commit or shallow clone); skipped."
	exit 0
fi
if [[ -z "$(git ls-tree -d "$against" proto)" ]]; then
	echo "check-breaking: $against has no proto/ directory; skipped."
	exit 0
fi

go tool -modfile=tools/go.mod buf breaking --against ".git#ref=$against"
echo "check-breaking: no breaking change against $against ($(git rev-parse --short "$against"))."
