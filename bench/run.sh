#!/usr/bin/env bash
# bench/run.sh — the performance yardstick in one command (about 5 minutes).
#
# On this machine, in one run, it:
#   1. builds the service (cmd/server) and the load generator (cmd/orderbench);
#   2. creates two fresh databases: one for the pgbench baseline, one for the
#      service, both migrated by the service's own `migrate` command;
#   3. runs pgbench with bench/pgbench/create_order.sql (exactly the service's
#      statements for one CreateOrder) at 32 clients: the baseline throughput;
#   4. starts the real service binary (PostgreSQL, embedded Kafka-protocol
#      broker, synchronous_commit=on) and runs orderbench against it:
#      CreateOrder at 32 clients (its max rate), then CreateOrder in an open
#      loop at 50% of that rate while consuming the topic (latency and Kafka
#      lag), then GetOrder at 32 clients;
#   5. runs pgbench at the same fixed rate (-R, per-transaction log) and
#      pgbench with bench/pgbench/get_order.sql at 32 clients;
#   6. prints P1–P6 against their targets and keeps everything raw in $OUT.
#
# Settings (environment): PGHOST (127.0.0.1), PGPORT (5432), PGUSER (postgres),
# DURATION (30, seconds measured per run), WARMUP (5), CLIENTS (32),
# PORT_BASE (19100: gRPC, +1 HTTP, +2 broker), OUT (bench/results/<time>),
# SERVICE_ENV (extra "K=V K=V" for the service, e.g. LOG_LEVEL=warn),
# SERVICE_BIN (a prebuilt service binary to measure instead of building
# cmd/server: for before/after comparisons of two builds).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
CLIENTS=${CLIENTS:-32}
PORT_BASE=${PORT_BASE:-19100}
OUT=${OUT:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
PG_DB=orderbench_pgbench
SVC_DB=orderbench_service
GRPC_ADDR=127.0.0.1:$PORT_BASE
HTTP_ADDR=127.0.0.1:$((PORT_BASE + 1))
KAFKA_ADDR=127.0.0.1:$((PORT_BASE + 2))

log() { printf '%s run.sh: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

for tool in go psql pgbench jq awk; do
	command -v "$tool" >/dev/null || die "$tool is not installed (pgbench/psql: apt-get install postgresql-client; jq: apt-get install jq)"
done
pg_isready -q -h "$PGHOST" -p "$PGPORT" || die "PostgreSQL is not accepting connections on $PGHOST:$PGPORT (scripts/ensure-postgres.sh starts it)"
for port in $PORT_BASE $((PORT_BASE + 1)) $((PORT_BASE + 2)); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is in use (set PORT_BASE)"; fi
done
mkdir -p "$OUT"
log "results go to $OUT"

SERVER_PID=
cleanup() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- machine
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
pg_setting() { psql -XAtqc "SHOW $1" postgres; }
{
	echo "date_utc: $(date -u +%FT%TZ)"
	echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (+uncommitted changes)')"
	echo "nproc: $(nproc)"
	echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "kernel: $(uname -r)"
	echo "go: $(go env GOVERSION)"
	echo "postgres: $(psql -XAtqc 'SHOW server_version' postgres)"
	for s in synchronous_commit fsync wal_sync_method full_page_writes shared_buffers wal_buffers max_wal_size \
		checkpoint_timeout commit_delay max_connections; do
		echo "pg.$s: $(pg_setting "$s")"
	done
	echo "load_average_before: $(load_avg)"
} | tee "$OUT/machine.txt" >&2

# ---------------------------------------------------------------- build
log "building the service and orderbench"
if [ -n "${SERVICE_BIN:-}" ]; then
	cp "$SERVICE_BIN" "$OUT/order-service"
	echo "service_binary: $SERVICE_BIN" | tee -a "$OUT/machine.txt" >&2
else
	go build -o "$OUT/order-service" ./cmd/server
fi
go build -o "$OUT/orderbench" ./cmd/orderbench

# ---------------------------------------------------------------- databases
fresh_db() {
	psql -XqAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1 TEMPLATE template0" postgres
	DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$1?sslmode=disable" AUTH_MODE=off LOG_LEVEL=warn "$OUT/order-service" migrate
}
log "fresh databases $PG_DB and $SVC_DB"
fresh_db "$PG_DB"
fresh_db "$SVC_DB"

# checkpoint before every measured run, so none inherits another's dirty pages
checkpoint() { psql -XqAtc "CHECKPOINT" postgres; }

# CPU accounting. Throughput on a shared 2-core machine depends on what
# else runs; CPU time per request does much less, so every measured run also
# records the CPU (utime+stime from /proc) of the PostgreSQL backends serving
# it and of its client, over the middle of the run.
#   proc_ticks PID... : "pid ticks" per live process
#   backend_pids DB   : the client backends connected to DB
proc_ticks() {
	local p files=()
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] && files+=("/proc/$p/stat")
	done
	# one awk for all: forking one per process is slow on a loaded machine
	[ ${#files[@]} -eq 0 ] || awk '{ split(FILENAME, f, "/"); sub(/^.*\) /, ""); print f[3], $12 + $13 }' "${files[@]}" 2>/dev/null
	return 0
}
backend_pids() {
	psql -XAtqc "SELECT pid FROM pg_stat_activity WHERE datname = '$1' AND backend_type = 'client backend' AND pid <> pg_backend_pid()" postgres
}
# cpu_window NAME DB DELAY SECONDS CLIENT_PID [SERVER_PID]: after DELAY,
# samples for SECONDS and writes $OUT/NAME.cpu: window_s pg_cpu_s client_cpu_s server_cpu_s
cpu_window() {
	local name=$1 db=$2 delay=$3 secs=$4 client=$5 server=${6:-}
	sleep "$delay"
	local pids t0 t1
	pids=$(backend_pids "$db")
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	proc_ticks $pids >"$OUT/$name.pg0"
	proc_ticks "$client" >"$OUT/$name.cl0"
	proc_ticks $server >"$OUT/$name.sv0"
	sleep "$secs"
	# shellcheck disable=SC2086
	proc_ticks $pids >"$OUT/$name.pg1"
	proc_ticks "$client" >"$OUT/$name.cl1"
	proc_ticks $server >"$OUT/$name.sv1"
	t1=$(date +%s.%N)
	delta() { awk 'NR == FNR { a[$1] = $2; next } ($1 in a) { s += $2 - a[$1] } END { printf "%.2f", s / 100 }' "$OUT/$name.$1"0 "$OUT/$name.$1"1; }
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') $(delta pg) $(delta cl) $(delta sv)" >"$OUT/$name.cpu"
	cat "$OUT/$name".pg0 "$OUT/$name".pg1 "$OUT/$name".cl0 "$OUT/$name".cl1 "$OUT/$name".sv0 "$OUT/$name".sv1 >"$OUT/$name.ticks" 2>/dev/null || true
	rm -f "$OUT/$name".pg[01] "$OUT/$name".cl[01] "$OUT/$name".sv[01]
}

# pgbench_run NAME SECONDS SCRIPT EXTRA... : runs pgbench on the baseline
# database for SECONDS, with the CPU of its middle SECONDS-4 accounted
pgbench_run() {
	local name=$1 secs=$2 script=$3
	shift 3
	checkpoint
	PGOPTIONS='-c synchronous_commit=on' pgbench -n -M prepared -D step=0 -j 2 \
		-f "$ROOT/bench/pgbench/$script" -T "$secs" "$@" "$PG_DB" >"$OUT/$name.txt" 2>&1 &
	local pid=$!
	if [ "$secs" -ge 10 ]; then cpu_window "$name" "$PG_DB" 2 $((secs - 6)) "$pid"; fi
	wait "$pid" || { cat "$OUT/$name.txt" >&2; die "pgbench $name"; }
	grep -q "number of failed transactions: 0 " "$OUT/$name.txt" || { cat "$OUT/$name.txt" >&2; die "pgbench $name had failed transactions"; }
}
pgbench_tps() { awk '/^tps = / {print $3}' "$OUT/$1.txt"; }

# ---------------------------------------------------------------- pgbench: CreateOrder max
log "pgbench CreateOrder, $CLIENTS clients, ${WARMUP}s + ${DURATION}s"
pgbench_run pgbench_create_warmup "$WARMUP" create_order.sql -c "$CLIENTS"
pgbench_run pgbench_create_max "$DURATION" create_order.sql -c "$CLIENTS"
PGB_CREATE_TPS=$(pgbench_tps pgbench_create_max)
log "pgbench CreateOrder: $PGB_CREATE_TPS tx/s"

# ---------------------------------------------------------------- service
log "starting the service"
(
	cd "$OUT"
	mkdir -p data
	env -i PATH="$PATH" HOME="$HOME" \
		DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$SVC_DB?sslmode=disable&synchronous_commit=on" \
		AUTH_MODE=off RATE_LIMIT_RPS=0 GRPC_ADDR="$GRPC_ADDR" HTTP_ADDR="$HTTP_ADDR" \
		EMBEDDED_KAFKA_ADDR="$KAFKA_ADDR" DATA_DIR="$OUT/data" ${SERVICE_ENV:-} \
		"$OUT/order-service" >"$OUT/service.log" 2>&1 &
	echo $! >"$OUT/service.pid"
)
SERVER_PID=$(cat "$OUT/service.pid")
for _ in $(seq 1 300); do
	if curl -fsS "http://$HTTP_ADDR/readyz" >/dev/null 2>&1; then break; fi
	kill -0 "$SERVER_PID" 2>/dev/null || { tail -50 "$OUT/service.log" >&2; die "the service exited"; }
	sleep 0.1
done
curl -fsS "http://$HTTP_ADDR/readyz" >/dev/null || die "the service is not ready after 30s"
log "service pid $SERVER_PID ready on $GRPC_ADDR"

orderbench() {
	local name=$1
	shift
	checkpoint
	"$OUT/orderbench" -addr "$GRPC_ADDR" -server-pid "$SERVER_PID" -warmup "${WARMUP}s" -duration "${DURATION}s" \
		-json -label "$name" "$@" >"$OUT/$name.json" 2>"$OUT/$name.log" &
	local pid=$!
	# the measured window starts after the warm-up (and a read preload)
	cpu_window "$name" "$SVC_DB" $((WARMUP + ${PRELOAD_S:-0} + 2)) $((DURATION - 8)) "$pid" "$SERVER_PID"
	wait "$pid" || { cat "$OUT/$name.log" >&2; die "orderbench $name"; }
	jq -r '"\(.label): \(.rpcs_per_s | floor) RPC/s, p99 \(.operations[].latency_ms.p99) ms, errors \(.iterations.errors // {})"' "$OUT/$name.json" >&2
}

# ---------------------------------------------------------------- service: CreateOrder max
log "orderbench CreateOrder, closed loop, $CLIENTS clients"
orderbench svc_create_max -mix create -clients "$CLIENTS"
SVC_CREATE_RPS=$(jq '.operations.CreateOrder.per_s' "$OUT/svc_create_max.json")
HALF_RATE=$(awk -v r="$SVC_CREATE_RPS" 'BEGIN { printf "%d", r / 2 }')
[ "$HALF_RATE" -ge 1 ] || die "the service's CreateOrder rate is $SVC_CREATE_RPS/s"

# ---------------------------------------------------------------- service: CreateOrder at 50%
log "orderbench CreateOrder, open loop at $HALF_RATE/s (50% of max), with Kafka lag"
orderbench svc_create_half -mix create -rate "$HALF_RATE" -clients "$CLIENTS" -kafka "$KAFKA_ADDR"

# ---------------------------------------------------------------- pgbench: CreateOrder at the same rate
log "pgbench CreateOrder at $HALF_RATE tx/s (-R), per-transaction log"
rm -f "$OUT"/pgblog.*
pgbench_run pgbench_create_half "$((WARMUP + DURATION))" create_order.sql -c "$CLIENTS" -R "$HALF_RATE" \
	-l --log-prefix="$OUT/pgblog"
# Log lines: client tx_no time_us script epoch_s epoch_us schedule_lag_us. With
# -R, time_us counts from the scheduled start (it includes the lag), like
# orderbench's open loop. The first WARMUP seconds are dropped.
cat "$OUT"/pgblog.* | awk -v warm="$WARMUP" '
	NR == 1 || $5 < first { first = $5 }
	{ t[NR] = $5; v[NR] = $3 }
	END { for (i = 1; i <= NR; i++) if (t[i] >= first + warm) print v[i] }' | sort -n >"$OUT/pgbench_create_half.latencies_us"
pct() { awk -v q="$2" '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } i = int(q * NR + 0.999999); if (i < 1) i = 1; printf "%.3f", v[i] / 1000 }' "$1"; }
PGB_HALF_P50=$(pct "$OUT/pgbench_create_half.latencies_us" 0.50)
PGB_HALF_P99=$(pct "$OUT/pgbench_create_half.latencies_us" 0.99)
rm -f "$OUT"/pgblog.*

# ---------------------------------------------------------------- reads
log "orderbench GetOrder, closed loop, $CLIENTS clients"
PRELOAD_S=5 orderbench svc_get_max -mix read -clients "$CLIENTS" -preload 1000
SVC_GET_RPS=$(jq '.operations.GetOrder.per_s' "$OUT/svc_get_max.json")

log "pgbench GetOrder, $CLIENTS clients"
psql -XqAt -v ON_ERROR_STOP=1 -d "$PG_DB" -c "CREATE TABLE bench_read_ids AS
	SELECT row_number() OVER () AS n, id FROM (SELECT id FROM orders ORDER BY random() LIMIT 1000) s" \
	-c "ALTER TABLE bench_read_ids ADD PRIMARY KEY (n)" -c "ANALYZE bench_read_ids"
pgbench_run pgbench_get_warmup "$WARMUP" get_order.sql -c "$CLIENTS"
pgbench_run pgbench_get_max "$DURATION" get_order.sql -c "$CLIENTS"
PGB_GET_TPS=$(pgbench_tps pgbench_get_max)

# ---------------------------------------------------------------- the service's memory, then stop it
PEAK_RSS_MIB=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER_PID/status")
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
echo "load_average_after: $(load_avg)" | tee -a "$OUT/machine.txt" >&2

# ---------------------------------------------------------------- summary
# cpu_json NAME RATE: the CPU of a run per request, in µs
cpu_json() {
	read -r win pg cl sv <"$OUT/$1.cpu"
	jq -n --argjson win "$win" --argjson pg "$pg" --argjson cl "$cl" --argjson sv "$sv" --argjson rate "$2" '
		def us(x): if $rate > 0 and $win > 0 then (x * 1e6 / ($rate * $win) | round) else null end;
		{ window_s: $win, postgres_us: us($pg), client_us: us($cl), server_us: us($sv), total_us: us($pg + $cl + $sv),
		  postgres_cores: ($pg / $win * 100 | round / 100), client_cores: ($cl / $win * 100 | round / 100),
		  server_cores: ($sv / $win * 100 | round / 100) }'
}
CPU_JSON=$(jq -n \
	--argjson pgb_create "$(cpu_json pgbench_create_max "$PGB_CREATE_TPS")" \
	--argjson svc_create "$(cpu_json svc_create_max "$SVC_CREATE_RPS")" \
	--argjson pgb_half "$(cpu_json pgbench_create_half "$HALF_RATE")" \
	--argjson svc_half "$(cpu_json svc_create_half "$HALF_RATE")" \
	--argjson pgb_get "$(cpu_json pgbench_get_max "$PGB_GET_TPS")" \
	--argjson svc_get "$(cpu_json svc_get_max "$SVC_GET_RPS")" \
	'{ create_max: { pgbench: $pgb_create, service: $svc_create }, create_half: { pgbench: $pgb_half, service: $svc_half },
	   get_max: { pgbench: $pgb_get, service: $svc_get } }')
H=$OUT/svc_create_half.json
jq -n --argjson cpu "$CPU_JSON" \
	--argjson pgb_create_tps "$PGB_CREATE_TPS" --argjson pgb_get_tps "$PGB_GET_TPS" \
	--argjson pgb_half_p50 "$PGB_HALF_P50" --argjson pgb_half_p99 "$PGB_HALF_P99" \
	--argjson half_rate "$HALF_RATE" --argjson peak_rss "$PEAK_RSS_MIB" \
	--slurpfile max "$OUT/svc_create_max.json" --slurpfile half "$H" --slurpfile get "$OUT/svc_get_max.json" \
	--arg load_before "$(awk -F': ' '/load_average_before/ {print $2}' "$OUT/machine.txt")" \
	--arg load_after "$(awk -F': ' '/load_average_after/ {print $2}' "$OUT/machine.txt")" '
	{
		load_average_before: $load_before, load_average_after: $load_after,
		P1: { service_rps: $max[0].operations.CreateOrder.per_s, pgbench_tps: $pgb_create_tps,
			ratio: ($max[0].operations.CreateOrder.per_s / $pgb_create_tps), target: ">= 1.0" },
		P2: { rate: $half_rate, service_p99_ms: $half[0].operations.CreateOrder.latency_ms.p99,
			service_p50_ms: $half[0].operations.CreateOrder.latency_ms.p50,
			pgbench_p99_ms: $pgb_half_p99, pgbench_p50_ms: $pgb_half_p50, target: "service p99 <= pgbench p99 + 2 ms",
			late_starts: ($half[0].late_starts // 0), errors: ($half[0].iterations.errors // {}) },
		P3: { rate: $half_rate, events: $half[0].kafka_lag.events, p50_ms: $half[0].kafka_lag.receive_ms.p50,
			p99_ms: $half[0].kafka_lag.receive_ms.p99, produce_p50_ms: $half[0].kafka_lag.produce_ms.p50,
			produce_p99_ms: $half[0].kafka_lag.produce_ms.p99,
			after_answer_p50_ms: $half[0].kafka_lag.after_answer_ms.p50, after_answer_p99_ms: $half[0].kafka_lag.after_answer_ms.p99,
			target: "p50 <= 10 ms, p99 <= 50 ms" },
		P4: { service_rps: $get[0].operations.GetOrder.per_s, pgbench_tps: $pgb_get_tps,
			ratio: ($get[0].operations.GetOrder.per_s / $pgb_get_tps), target: ">= 0.8" },
		P6: { peak_rss_mib: $peak_rss, target: "<= 150 MiB" },
		cpu_per_request: $cpu
	}' >"$OUT/summary.json"

jq -r '
	def f(x): (x * 100 | round) / 100;
	def verdict(ok): if ok then "MET" else "MISSED" end;
	"",
	"== order-service benchmark (bench/run.sh); load average before \(.load_average_before), after \(.load_average_after)",
	"P1 CreateOrder throughput @32 clients: service \(f(.P1.service_rps))/s ÷ pgbench \(f(.P1.pgbench_tps))/s = \(f(.P1.ratio))×  (target ≥ 1.0×: \(verdict(.P1.ratio >= 1.0)))",
	"P2 CreateOrder p99 @ \(.P2.rate)/s (50% of the service max): service \(f(.P2.service_p99_ms)) ms (p50 \(f(.P2.service_p50_ms))), pgbench \(f(.P2.pgbench_p99_ms)) ms (p50 \(f(.P2.pgbench_p50_ms)))  (target ≤ pgbench + 2 ms: \(verdict(.P2.service_p99_ms <= .P2.pgbench_p99_ms + 2)))",
	"P3 commit → Kafka lag @ \(.P3.rate)/s over \(.P3.events) events: p50 \(f(.P3.p50_ms)) ms, p99 \(f(.P3.p99_ms)) ms  (targets p50 ≤ 10, p99 ≤ 50: \(verdict(.P3.p50_ms <= 10 and .P3.p99_ms <= 50)))",
	"   (consumer receive − ce_time, an upper bound: ce_time is stamped before the commit. Relay produce call − ce_time: p50 \(f(.P3.produce_p50_ms)), p99 \(f(.P3.produce_p99_ms)) ms.",
	"    Lower bound, OrderCreated receive − CreateOrder answer: p50 \(f(.P3.after_answer_p50_ms)), p99 \(f(.P3.after_answer_p99_ms)) ms)",
	"P4 GetOrder throughput @32 clients: service \(f(.P4.service_rps))/s ÷ pgbench \(f(.P4.pgbench_tps))/s = \(f(.P4.ratio))×  (target ≥ 0.8×: \(verdict(.P4.ratio >= 0.8)))",
	"P6 server peak RSS (VmHWM): \(.P6.peak_rss_mib) MiB  (target ≤ 150 MiB: \(verdict(.P6.peak_rss_mib <= 150)))",
	"CPU per request, µs (PostgreSQL backends + client + service = total):",
	(.cpu_per_request | to_entries[] | .key as $k | .value |
		"  \($k | (. + "            ")[:12]) pgbench \(.pgbench.postgres_us) + \(.pgbench.client_us) = \(.pgbench.total_us)   service \(.service.postgres_us) + \(.service.client_us) + \(.service.server_us) = \(.service.total_us)")
' "$OUT/summary.json" | tee "$OUT/summary.txt"
# keep the measurements, not the bulk: binaries, the broker's log, the
# service's request log (compressed) and pgbench's raw latencies (compressed)
rm -rf "$OUT/data" "$OUT/order-service" "$OUT/orderbench" "$OUT/service.pid"
gzip -f "$OUT/service.log" "$OUT/pgbench_create_half.latencies_us" 2>/dev/null || true
echo "raw output: $OUT" | tee -a "$OUT/summary.txt"
