#!/usr/bin/env bash
# Runs the README walkthrough for real and checks what README says to look for.
#
# It builds the server, starts it in embedded mode (no DATABASE_URL, no
# KAFKA_BROKERS, nothing else from this environment) in a fresh DATA_DIR,
# waits for /readyz, runs the bash block between <!-- walkthrough:start -->
# and <!-- walkthrough:end --> as written, then checks the README's "What to
# look for" claims, stops the server with SIGTERM (it must exit 0) and
# prints PASS/FAIL per claim.
#
#   scripts/walkthrough.sh
#   GRPC_ADDR=127.0.0.1:19000 HTTP_ADDR=127.0.0.1:18080 EMBEDDED_KAFKA_ADDR=127.0.0.1:19092 scripts/walkthrough.sh
#
# The server listens on the README's ports (9000, 8080, 9092) unless the
# service's own settings GRPC_ADDR, HTTP_ADDR and EMBEDDED_KAFKA_ADDR say
# otherwise; then it gets those, and in the README's commands the addresses
# localhost:9000, localhost:8080 and localhost:9092 are replaced by them —
# nothing else in the commands changes. The tests run it so, on free ports:
# the default ports are machine-wide.
#
# Environment:
#   GRPC_ADDR, HTTP_ADDR, EMBEDDED_KAFKA_ADDR  the server's listen addresses
#   ORDER_SERVICE_BIN=path  run this binary instead of building ./cmd/server
#   KEEP_WORKDIR=1          keep the work directory (server log, outputs)
#
# Exit status: 0 every claim holds, 1 a claim failed, 2 the walkthrough
# could not run (tools, build, start-up), 3 a listen port is taken.
#
# Not `set -e`: the walkthrough's stale-version commands fail on purpose.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
README="$ROOT/README.md"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/walkthrough.XXXXXX")
SERVER_PID=""
# The addresses the README's commands name, and the server's listen
# addresses (the same unless the environment sets them).
README_GRPC=localhost:9000
README_HTTP=localhost:8080
README_KAFKA=localhost:9092
LISTEN_GRPC=${GRPC_ADDR:-:9000}
LISTEN_HTTP=${HTTP_ADDR:-:8080}
LISTEN_KAFKA=${EMBEDDED_KAFKA_ADDR:-127.0.0.1:9092}
READY_SECONDS=60
STOP_SECONDS=40
RUN_SECONDS=180
KAFKA_SECONDS=30 # how long the relay may take to publish the last events

log() { printf '[walkthrough] %s\n' "$*" >&2; }
die() {
	local code=$1
	shift
	log "ERROR: $*"
	exit "$code"
}

cleanup() {
	if [[ -n $SERVER_PID ]] && server_alive; then
		kill -KILL "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	if [[ ${KEEP_WORKDIR:-0} == 1 ]]; then
		log "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# server_alive: the server process exists and is not a zombie.
server_alive() {
	local state
	state=$(ps -o stat= -p "$SERVER_PID" 2>/dev/null) || return 1
	[[ -n $state && $state != Z* ]]
}

# --- tools -------------------------------------------------------------------

install_tools() {
	if command -v go >/dev/null; then
		PATH="$PATH:$(go env GOPATH)/bin"
	fi
	if ! command -v grpcurl >/dev/null; then
		log "installing grpcurl (go install)"
		go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4 || die 2 "cannot install grpcurl"
	fi
	local missing=() tool
	for tool in kcat jq curl; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	if ((${#missing[@]})); then
		log "installing ${missing[*]} (apt-get)"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
			die 2 "cannot install ${missing[*]}"
	fi
	for tool in grpcurl kcat jq curl; do
		command -v "$tool" >/dev/null || die 2 "$tool is not on PATH"
	done
}

# --- ports -------------------------------------------------------------------

# dial_addr LISTEN: the address to dial for a listen address (":9000" and
# "0.0.0.0:9000" are dialled on localhost).
dial_addr() {
	local host=${1%:*} port=${1##*:}
	case $host in "" | 0.0.0.0 | "[::]") host=localhost ;; esac
	printf '%s:%s' "$host" "$port"
}
DIAL_GRPC=$(dial_addr "$LISTEN_GRPC")
DIAL_HTTP=$(dial_addr "$LISTEN_HTTP")
DIAL_KAFKA=$(dial_addr "$LISTEN_KAFKA")
PORTS=("${LISTEN_GRPC##*:}" "${LISTEN_HTTP##*:}" "${LISTEN_KAFKA##*:}")

# port_taken PORT: something listens on PORT (any address).
port_taken() {
	if command -v ss >/dev/null; then
		[[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

check_ports() {
	local taken=() port
	for port in "${PORTS[@]}"; do
		port_taken "$port" && taken+=("$port")
	done
	if ((${#taken[@]})); then
		log "ERROR: port(s) ${taken[*]} already in use; the walkthrough needs ${PORTS[*]} free (set GRPC_ADDR, HTTP_ADDR and EMBEDDED_KAFKA_ADDR to use others)."
		command -v ss >/dev/null && ss -ltnp 2>/dev/null | grep -E ":($(IFS='|'; echo "${PORTS[*]}"))\b" >&2
		exit 3
	fi
}

# --- server ------------------------------------------------------------------

build_server() {
	if [[ -n ${ORDER_SERVICE_BIN:-} ]]; then
		[[ -x $ORDER_SERVICE_BIN ]] || die 2 "ORDER_SERVICE_BIN=$ORDER_SERVICE_BIN is not executable"
		BIN=$ORDER_SERVICE_BIN
		return
	fi
	BIN="$WORK/order-service"
	log "building ./cmd/server"
	(cd "$ROOT" && go build -o "$BIN" ./cmd/server) || die 2 "build failed"
}

# poll_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds
# (0) or SECONDS have passed (1). The interval is the poll's pace; the
# deadline is a clock, not a count of tries (a try may itself take time).
poll_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# server_ready: /readyz answers 200, or the server has exited (then
# SERVER_EXITED=1): either way there is nothing more to wait for.
server_ready() {
	if ! server_alive; then
		SERVER_EXITED=1
		return 0
	fi
	curl -fsS -o /dev/null --max-time 2 "http://$DIAL_HTTP/readyz" 2>/dev/null
}

start_server() {
	mkdir -p "$WORK/run"
	# Only PATH, HOME and the listen addresses: no DATABASE_URL,
	# KAFKA_BROKERS or ids leak in.
	(cd "$WORK/run" && exec env -i PATH="$PATH" HOME="$HOME" DATA_DIR="$WORK/data" \
		GRPC_ADDR="$LISTEN_GRPC" HTTP_ADDR="$LISTEN_HTTP" EMBEDDED_KAFKA_ADDR="$LISTEN_KAFKA" \
		"$BIN") >"$WORK/server.log" 2>&1 &
	SERVER_PID=$!
	SERVER_EXITED=0
	local start=$SECONDS
	if ! poll_until "$READY_SECONDS" server_ready; then
		tail -n 50 "$WORK/server.log" >&2
		die 2 "the server was not ready within ${READY_SECONDS}s"
	fi
	if ((SERVER_EXITED)); then
		tail -n 50 "$WORK/server.log" >&2
		die 2 "the server exited during start-up"
	fi
	log "server ready after $((SECONDS - start))s (pid $SERVER_PID, DATA_DIR $WORK/data, grpc $DIAL_GRPC, http $DIAL_HTTP, kafka $DIAL_KAFKA)"
}

# stop_server: SIGTERM, wait up to STOP_SECONDS for the exit, then the exit
# status (137 when it had to be killed).
stop_server() {
	kill -TERM "$SERVER_PID"
	if ! timeout "$STOP_SECONDS" tail --pid="$SERVER_PID" -s 0.1 -f /dev/null; then
		log "the server did not exit within ${STOP_SECONDS}s of SIGTERM; killing it"
		kill -KILL "$SERVER_PID"
	fi
	wait "$SERVER_PID"
	local rc=$?
	SERVER_PID=""
	return "$rc"
}

# --- the walkthrough ---------------------------------------------------------

extract_walkthrough() {
	awk '/<!-- walkthrough:start -->/ { inside = 1; next }
	     /<!-- walkthrough:end -->/   { inside = 0 }
	     inside && !/^```/' "$README" >"$WORK/readme-block.sh"
	[[ -s $WORK/readme-block.sh ]] || die 2 "no walkthrough block between the markers in $README"
	redirect_ports "$WORK/readme-block.sh" >"$WORK/walkthrough.sh"
}

# redirect_ports FILE: the README's commands with the three README addresses
# replaced by the server's (a no-op on the default ports). Every address the
# commands name must be one of the three: a command that reached for another
# port would talk to whatever listens there, not to this server.
redirect_ports() {
	local other
	other=$(grep -oE '[A-Za-z0-9.-]*:(9000|8080|9092)\b' "$1" | grep -vxE "$README_GRPC|$README_HTTP|$README_KAFKA" | sort -u)
	[[ -z $other ]] || die 2 "the walkthrough names $(echo $other) — only $README_GRPC, $README_HTTP and $README_KAFKA are redirected to the server"
	for addr in "$README_GRPC" "$README_HTTP" "$README_KAFKA"; do
		grep -q "$addr" "$1" || die 2 "the walkthrough no longer names $addr; update scripts/walkthrough.sh"
	done
	sed -e "s/$README_GRPC\b/$DIAL_GRPC/g" -e "s/$README_HTTP\b/$DIAL_HTTP/g" -e "s/$README_KAFKA\b/$DIAL_KAFKA/g" "$1"
}

# The block runs as written, sourced by a runner that traces each command
# onto the output (set -x), so that the checks can tell which command printed
# what. PS4 is set there, not exported: bash ignores PS4 from the environment
# when run as root. It starts with a newline because some commands (curl)
# print no final newline.
run_walkthrough() {
	cat >"$WORK/runner.sh" <<'EOF'
PS4=$'\n+ '
set -x
source "$1"
EOF
	(cd "$WORK/run" && timeout "$RUN_SECONDS" bash "$WORK/runner.sh" "$WORK/walkthrough.sh") >"$WORK/output.txt" 2>&1
	WALKTHROUGH_RC=$?
	OUT="$WORK/output.txt"
}

# section PATTERN: the output of the first traced command matching PATTERN
# (an awk regex), up to the next traced command.
section() {
	awk -v pat="$1" '
		/^\++ / { if (found) exit; if ($0 ~ pat) { found = 1; next } }
		found' "$OUT"
}

# --- checks ------------------------------------------------------------------

FAILED=0
RESULTS=()
claim() { # claim NAME STATUS [DETAIL]: STATUS 0 is a pass
	local name=$1 ok=$2 detail=${3:-}
	if ((ok == 0)); then
		RESULTS+=("PASS  $name")
	else
		RESULTS+=("FAIL  $name${detail:+ — $detail}")
		FAILED=1
	fi
}

uuid_re='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

check_claims() {
	local ok
	# 1. Both CreateOrder calls give the same order: the first prints it, the
	#    second's id is captured in ORDER_ID (and GetOrder prints that order).
	local first order_id
	first=$(section 'grpcurl .*CreateOrder' | grep -oE "\"id\": *\"$uuid_re\"" | head -n 1 | grep -oE "$uuid_re")
	order_id=$(grep -oE "^\+ ORDER_ID=$uuid_re" "$OUT" | grep -oE "$uuid_re" | head -n 1)
	[[ -n $first && $first == "$order_id" ]]
	ok=$?
	claim "both CreateOrder calls return the same order id (first prints $first, the retry's ORDER_ID=${order_id:-none})" $ok

	# 2. The stale CancelOrder: Aborted, VERSION_MISMATCH, current_version 2.
	local cancel
	cancel=$(section 'grpcurl .*CancelOrder')
	grep -q 'Code: Aborted' <<<"$cancel"
	ok=$?
	claim "stale CancelOrder answers Code: Aborted" $ok
	grep -q '"reason": "VERSION_MISMATCH"' <<<"$cancel"
	ok=$?
	claim "stale CancelOrder carries reason VERSION_MISMATCH" $ok
	grep -q '"current_version": "2"' <<<"$cancel"
	ok=$?
	claim "stale CancelOrder carries current_version \"2\"" $ok

	# 3. The stale REST payment: HTTP 409.
	local stale_pay
	stale_pay=$(section "curl .*http_code.*:pay")
	grep -qx 'HTTP 409' <<<"$stale_pay"
	ok=$?
	claim "stale REST payment answers HTTP 409" $ok "got: $(grep '^HTTP ' <<<"$stale_pay")"

	# 4. Time travel: GetOrder as of version 1 is the order before it was
	#    confirmed (it is paid by now), and the history from version 2, one
	#    event a page, starts at OrderConfirmed with a token for the rest.
	local past
	past=$(section 'grpcurl .*as_of_version')
	jq -e --arg id "$order_id" '.order.id == $id and .order.version == "1" and .order.status == "ORDER_STATUS_PENDING"' <<<"$past" >/dev/null 2>&1
	ok=$?
	claim "GetOrder as of version 1 is the order at version 1, PENDING" $ok "got: $(tr -d '\n' <<<"$past" | head -c 300)"
	local from_two
	from_two=$(section 'curl .*from_version=2')
	jq -e --arg id "$order_id" '(.events | length) == 1 and .events[0].order_id == $id and .events[0].version == "2"
		and .events[0].event_type == "OrderConfirmed" and (.next_page_token // "") != ""' <<<"$from_two" >/dev/null 2>&1
	ok=$?
	claim "the history from version 2 in pages of 1 starts with OrderConfirmed at version 2 and a next_page_token" $ok "got: $(head -c 300 <<<"$from_two")"

	# 5. kcat: OrderCreated, OrderConfirmed, OrderPaid of the first order and
	#    the second order's OrderCreated, each with ce_id, ce_type, ce_source.
	#    The relay publishes after the commit, so the walkthrough's kcat, run
	#    a moment after the last command, may be early by a few events: the
	#    same kcat command is read again until they are there (a deadline of
	#    KAFKA_SECONDS), and only then judged.
	local second
	second=$(section "curl .*POST $DIAL_HTTP/v1/orders -H" | grep -oE "\"id\": *\"$uuid_re\"" | head -n 1 | grep -oE "$uuid_re")
	WANTED=("$order_id order.v1.OrderCreated" "$order_id order.v1.OrderConfirmed" "$order_id order.v1.OrderPaid" "$second order.v1.OrderCreated")
	RECORDS=$(section '^\\+ kcat ' | kcat_records)
	KCAT_CMD=$(grep -m 1 '^kcat ' "$WORK/walkthrough.sh")
	KCAT_READS=1
	poll_until "$KAFKA_SECONDS" reread_kcat
	((KCAT_READS == 1)) || log "kcat read the topic $KCAT_READS times before the relay had published every event"
	local want records=$RECORDS
	for want in "${WANTED[@]}"; do
		grep -qE "^$want /order-service/local $uuid_re\$" <<<"$records"
		ok=$?
		claim "kcat shows ${want#* } of order ${want%% *} with ce_id, ce_type, ce_source=/order-service/local" $ok
	done
	[[ -n $second && $second != "$order_id" ]]
	ok=$?
	claim "the REST CreateOrder made a second order (${second:-none})" $ok
	local malformed count
	malformed=$(grep -cvE "^$uuid_re order\.v1\.[A-Za-z]+ /order-service/local $uuid_re\$" <<<"$records")
	count=$(grep -c . <<<"$records")
	[[ -n $records && $malformed == 0 ]]
	ok=$?
	claim "every kcat record has a key, ce_id, ce_type and ce_source=/order-service/local ($count records)" $ok
}

# kcat_records: one line "key ce_type ce_source ce_id" per record in kcat's
# output (stdin).
kcat_records() {
	awk '
		/^key=/     { key = substr($1, 5) }
		/^headers=/ { type = "-"; source = "-"; id = "-"
		              n = split(substr($0, 9), h, ",")
		              for (i = 1; i <= n; i++) {
		                  split(h[i], kv, "=")
		                  if (kv[1] == "ce_type") type = kv[2]
		                  if (kv[1] == "ce_source") source = kv[2]
		                  if (kv[1] == "ce_id") id = kv[2]
		              }
		              print key, type, source, id }'
}

# all_published: RECORDS holds a record for every "order-id type" in WANTED.
all_published() {
	local want
	for want in "${WANTED[@]}"; do
		grep -qE "^$want /order-service/local $uuid_re\$" <<<"$RECORDS" || return 1
	done
}

# reread_kcat: done when every wanted record is there; otherwise runs the
# walkthrough's kcat command once more into RECORDS.
reread_kcat() {
	all_published && return 0
	RECORDS=$( (cd "$WORK/run" && timeout 20 bash -c "$KCAT_CMD") 2>/dev/null | kcat_records)
	KCAT_READS=$((KCAT_READS + 1))
	all_published
}

main() {
	install_tools
	check_ports
	build_server
	start_server
	extract_walkthrough
	log "running the README walkthrough ($(grep -cvE '^\s*(#|$)' "$WORK/walkthrough.sh") commands)"
	run_walkthrough
	echo "=== walkthrough output (bash -x, exit $WALKTHROUGH_RC) ==="
	cat "$OUT"
	echo "=== end of walkthrough output ==="
	check_claims
	stop_server
	local rc=$?
	claim "server exits 0 on SIGTERM" $rc "exit status $rc"
	if ((FAILED)); then
		echo "=== server log (last 40 lines) ==="
		tail -n 40 "$WORK/server.log"
	fi
	echo
	printf '%s\n' "${RESULTS[@]}"
	if ((FAILED)); then
		echo "walkthrough: FAIL"
		exit 1
	fi
	echo "walkthrough: PASS"
}

main "$@"
