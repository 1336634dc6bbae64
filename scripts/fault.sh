#!/usr/bin/env bash
# Fault harness (docs/RELIABILITY.md): builds the service and cmd/faultcheck,
# then runs every fault scenario against the real binary, a private
# PostgreSQL cluster (initdb into a temporary directory, its own port; the
# machine's shared server is never touched) and a Kafka broker faultcheck
# controls. One PASS/FAIL line per scenario; exit status 1 if any failed.
#
#   scripts/fault.sh            full run (about 5 minutes)
#   scripts/fault.sh --short    CI variant (about 1-2 minutes)
#   scripts/fault.sh --short -scenarios=a,e -keep    any faultcheck flag passes through
#
# FAULT_WORK=dir keeps journals (<scenario>.jsonl), service logs and the
# cluster there instead of a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
keep_flag=0
for a in "$@"; do
	case "$a" in
	--short) args+=(-short) ;;
	-keep | --keep) keep_flag=1 ;;
	*) args+=("$a") ;;
	esac
done

bin=$(mktemp -d "${TMPDIR:-/tmp}/fault-bin-XXXXXX")
if [[ -n "${FAULT_WORK:-}" ]]; then
	work=$FAULT_WORK
	keep=1
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/fault-work-XXXXXX")
	keep=$keep_flag
fi
mkdir -p "$work"
chmod 755 "$work"

cleanup() {
	# faultcheck stops its cluster itself; this covers a faultcheck that was
	# killed. Only the private cluster under $work is ever stopped.
	if [[ -f "$work/pg/postmaster.pid" ]]; then
		for d in /usr/lib/postgresql/*/bin; do
			if [[ -x "$d/pg_ctl" ]]; then
				if [[ $(id -u) == 0 ]]; then
					runuser -u postgres -- "$d/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
				else
					"$d/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
				fi
				break
			fi
		done
	fi
	rm -rf "$bin"
}
trap cleanup EXIT

go build -o "$bin/order-service" ./cmd/server
go build -o "$bin/faultcheck" ./cmd/faultcheck
status=0
"$bin/faultcheck" -server-bin "$bin/order-service" -work "$work" "${args[@]}" || status=$?
if [[ $status == 0 && $keep == 0 ]]; then
	rm -rf "$work"
else
	echo "fault.sh: journals, service logs and the PostgreSQL log are in $work" >&2
fi
exit "$status"
