#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time each (default 10s):
# `scripts/fuzz.sh 1m` for a longer session. New crashers land in the
# package's testdata/fuzz and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}

git grep -l '^func Fuzz' -- '*_test.go' | while read -r file; do
	pkg="./$(dirname "$file")"
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
		echo "fuzz $pkg $target for $fuzztime"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
	done
done
