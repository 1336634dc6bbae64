#!/usr/bin/env bash
# kcat-check.sh: read the order events topic with kcat (librdkafka, a client
# independent of the service's franz-go) and check every record's shape:
# the key is the order id, the CloudEvents binary-mode headers are there
# (ce_specversion 1.0, ce_id, ce_source, ce_type order.v1.*, ce_subject =
# key, ce_time, content-type application/json) and the value is JSON.
#
# Usage: scripts/kcat-check.sh BROKER TOPIC [MIN_RECORDS]
#   BROKER       host:port of a broker, e.g. localhost:9092
#   TOPIC        e.g. order-events
#   MIN_RECORDS  fail unless at least this many records are read (default 1)
#
# Installs the Debian packages kcat and jq when missing. Exit status: 0 all
# records fine; 1 a record is malformed or too few records; 2 usage;
# 3 kcat or jq missing and cannot be installed.
set -euo pipefail

log() { echo "kcat-check: $*" >&2; }

usage() {
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# as_root runs a command with root rights, through sudo when we are not root.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		return 1
	fi
}

# ensure_tool installs the Debian package of a missing command.
ensure_tool() {
	local tool="$1"
	command -v "$tool" >/dev/null && return 0
	log "$tool is not installed; installing the Debian package"
	if ! { as_root apt-get install -y -qq "$tool" >&2 ||
		{ as_root apt-get update -qq >&2 && as_root apt-get install -y -qq "$tool" >&2; }; }; then
		log "cannot install $tool"
		exit 3
	fi
	command -v "$tool" >/dev/null || { log "$tool still missing after install"; exit 3; }
}

# check_records reads kcat's JSON envelopes (one per line) and prints one
# line per malformed record; jq exits non-zero on unparsable input.
check_records() {
	jq -r '
		def h: (.headers // []) as $a
			| reduce range(0; $a | length; 2) as $i ({}; .[$a[$i]] = $a[$i + 1]);
		. as $r
		| (h) as $h
		| [
			(if (.key // "") == "" then "no key" else empty end),
			(if $h.ce_specversion != "1.0" then "ce_specversion is \($h.ce_specversion)" else empty end),
			(if ($h.ce_id // "") == "" then "no ce_id" else empty end),
			(if ($h.ce_source // "") | startswith("/") | not then "ce_source is \($h.ce_source)" else empty end),
			(if ($h.ce_type // "") | startswith("order.v1.") | not then "ce_type is \($h.ce_type)" else empty end),
			(if $h.ce_subject != .key then "ce_subject \($h.ce_subject) is not the key \(.key)" else empty end),
			(if ($h.ce_time // "") | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$") | not
				then "ce_time is \($h.ce_time)" else empty end),
			(if $h["content-type"] != "application/json" then "content-type is \($h["content-type"])" else empty end),
			(if ((.payload // "") | try (fromjson | type == "object") catch false) | not
				then "value is not a JSON object" else empty end)
		  ]
		| select(length > 0)
		| "partition \($r.partition) offset \($r.offset): " + join("; ")
	' 2>/dev/null
}

main() {
	if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
	local broker="$1" topic="$2" min="${3:-1}"
	ensure_tool kcat
	ensure_tool jq

	local out
	out="$(mktemp)"
	# shellcheck disable=SC2064 # expand now: $out is local to main
	trap "rm -f '$out'" EXIT
	log "reading $topic from $broker"
	kcat -C -J -e -q -b "$broker" -t "$topic" -o beginning >"$out"

	local count bad
	count="$(grep -c . "$out" || true)"
	if ! bad="$(check_records <"$out")"; then
		log "kcat output is not JSON"
		exit 1
	fi
	if [ -n "$bad" ]; then
		log "malformed records:"
		echo "$bad" >&2
		exit 1
	fi
	if [ "$count" -lt "$min" ]; then
		log "read $count records, want at least $min"
		exit 1
	fi
	log "ok: $count records, each with key, CloudEvents headers and a JSON value"
}

main "$@"
