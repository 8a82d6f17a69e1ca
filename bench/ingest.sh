#!/usr/bin/env bash
# Inbound benchmark, from a clean state: builds wacrm and the load generator
# (release), starts `wacrm serve` on 127.0.0.1 with a fresh data directory (its
# own embedded PostgreSQL), loads it with signed Meta webhooks, waits for the
# backlog to be processed, prints the figures with wacrm's and PostgreSQL's
# memory, then stops wacrm (which stops PostgreSQL) and removes everything.
#
#   bash bench/ingest.sh                       # 20 s, 64 in flight
#   DURATION=30 CONCURRENCY=128 bash bench/ingest.sh
#   WORKERS=0 bash bench/ingest.sh             # durable ingest alone
#
#   STATEMENTS=1 DURATION=5 bash bench/ingest.sh --with-bot   # statements per event
#   BACKLOG=1 bash bench/ingest.sh --with-bot  # processing alone, on a backlog
#
# Environment: DURATION (s, default 20), CONCURRENCY (default 64), SENDERS
# (default 20000), GEN_THREADS (generator threads, default 1), DRAIN_TIMEOUT
# (s, default 300), SKIP_BUILD=1 (use the binaries already in
# $CARGO_TARGET_DIR/release, else target/release), WORKERS=0 (wacrm runs no
# background jobs: ingest alone, processing not measured), WACRM_HTTP_WORKERS
# / WACRM_DB_POOL_SIZE (passed to wacrm when set), BACKLOG=1 (the load runs
# without workers, then wacrm restarts with them and the processing of the
# backlog is timed alone: what processing can do when it need not share the
# two cores with ingest and the generator; with PG_STATS=1 also the
# statements that took PostgreSQL the most time), STATEMENTS=1 (PostgreSQL
# logs every statement from the load on; afterwards the statements per
# processed webhook event are printed, with the most frequent ones: a count
# that does not depend on the machine's load. Logging slows everything: the
# rates of such a run are not comparable). Extra arguments go to ingest-bench
# (e.g. --skip-conversation-count, --with-bot; see `ingest-bench --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

DURATION="${DURATION:-20}"
CONCURRENCY="${CONCURRENCY:-64}"
SENDERS="${SENDERS:-20000}"
GEN_THREADS="${GEN_THREADS:-1}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-300}"
BACKLOG_TIMEOUT="$DRAIN_TIMEOUT"
ADMIN_EMAIL="bench-admin@example.com"
ADMIN_PASSWORD="bench-password-$RANDOM$RANDOM"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building (release) =="
  # Two commands, not one: built together, the two would unify their
  # dependencies' features differently and rebuild wacrm.
  cargo build --release -q -p wacrm-api
  cargo build --release -q -p wacrm-bench-ingest
fi
BIN_DIR="${CARGO_TARGET_DIR:-$PWD/target}/release"
WACRM="$BIN_DIR/wacrm"
GENERATOR="$BIN_DIR/ingest-bench"

port="$(free_port)"
URL="http://127.0.0.1:$port"

DATA_DIR="$(mktemp -d /tmp/wacrm-bench.XXXXXX)"
# As root, the embedded cluster runs as `postgres`/`nobody`, which must be able
# to enter the data directory.
chmod 755 "$DATA_DIR"
WACRM_PID=""
SAMPLER_PID=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; fi
  stop_wacrm
  rm -rf "$DATA_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting wacrm on $URL (data: $DATA_DIR) =="
extra_env=()
if [ "${WORKERS:-1}" = 0 ] || [ "${BACKLOG:-0}" = 1 ]; then
  # Ingest alone: no job runs during the load (nor after it, unless BACKLOG).
  extra_env+=("WACRM_RUN_WORKERS=false")
  DRAIN_TIMEOUT=0
fi
[ -n "${WACRM_HTTP_WORKERS:-}" ] && extra_env+=("WACRM_HTTP_WORKERS=$WACRM_HTTP_WORKERS")
[ -n "${WACRM_DB_POOL_SIZE:-}" ] && extra_env+=("WACRM_DB_POOL_SIZE=$WACRM_DB_POOL_SIZE")
start_wacrm "${extra_env[@]}"

# Memory, sampled every 0.5 s: wacrm's own VmRSS/VmHWM, and the embedded
# PostgreSQL's processes (postmaster and its children) summed, as RSS (counts
# shared buffers once per process) and as PSS (shared pages split fairly).
MEM_LOG="$DATA_DIR/memory.log"
: >"$MEM_LOG"
sample_memory() {
  # Processes come and go under us: no failure here may end the sampler.
  set +e
  local pg pids rss pss
  while kill -0 "$WACRM_PID" 2>/dev/null; do
    pg="$(postmaster_pid)"
    pids=""
    if [ -n "$pg" ]; then
      pids="$pg $(postmaster_children "$pg")"
    fi
    rss=0; pss=0
    for p in $pids; do
      rss=$(( rss + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0) + 0 ))
      pss=$(( pss + $(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0) + 0 ))
    done
    echo "$(awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r + 0, h + 0 }' "/proc/$WACRM_PID/status" 2>/dev/null) $rss $pss $(echo $pids | wc -w)" >>"$MEM_LOG"
    sleep 0.5
  done
}
sample_memory &
SAMPLER_PID=$!

PG_LOG="$DATA_DIR/postgres/postgres.log"
if [ "${STATEMENTS:-0}" = 1 ]; then
  cluster_psql "ALTER SYSTEM SET log_statement = 'all'" >/dev/null
  cluster_psql "SELECT pg_reload_conf()" >/dev/null
  statements_from=$(wc -l <"$PG_LOG")
fi

read -r busy0 total0 < <(machine_ticks)
wacrm0=$(wacrm_ticks)
pg0=$(postgres_ticks)

echo "== load: ${DURATION} s, ${CONCURRENCY} in flight =="
WACRM_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$GENERATOR" \
  --url "$URL" --email "$ADMIN_EMAIL" \
  --duration "$DURATION" --concurrency "$CONCURRENCY" --senders "$SENDERS" \
  --threads "$GEN_THREADS" --drain-timeout "$DRAIN_TIMEOUT" "$@" \
  | tee "$DATA_DIR/report.txt"

read -r busy1 total1 < <(machine_ticks)
wacrm1=$(wacrm_ticks)
pg1=$(postgres_ticks)
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
generator_cpu=$(awk '/^generator CPU/ { print $(NF - 3) }' "$DATA_DIR/report.txt")
hwm_now=$(awk '/^VmHWM:/ { print $2 }' "/proc/$WACRM_PID/status" 2>/dev/null || echo 0)

echo "-- memory (sampled every 0.5 s during the run) --"
awk -v hwm="$hwm_now" '
  { if ($1 > rss) rss = $1; if ($3 > pgrss) pgrss = $3; if ($4 > pgpss) pgpss = $4; if ($5 > procs) procs = $5; n++ }
  END {
    if (hwm > 0) peak = hwm; else peak = rss
    printf "wacrm peak RSS         %.1f MB  (VmHWM at the end; highest VmRSS sampled %.1f MB)\n", peak / 1024, rss / 1024
    printf "postgres peak (sum)    RSS %.1f MB, PSS %.1f MB  (up to %d processes; %d samples)\n", pgrss / 1024, pgpss / 1024, procs, n
  }' "$MEM_LOG"
awk -v busy=$((busy1 - busy0)) -v total=$((total1 - total0)) -v w=$((wacrm1 - wacrm0)) \
    -v pg=$((pg1 - pg0)) -v gen="${generator_cpu:-0}" -v cores="$(nproc)" 'BEGIN {
  other = busy / 100 - w / 100 - pg / 100 - gen; if (other < 0) other = 0
  printf "-- CPU over the whole run (load + drain: %.0f s x %d cores = %.0f core-s) --\n", total / 100 / cores, cores, total / 100
  printf "wacrm %.1f s, postgres %.1f s, generator %.1f s, other processes %.1f s, idle %.1f s\n", w / 100, pg / 100, gen, other, (total - busy) / 100
}'
echo "machine                $(nproc) cores, $(awk '/^model name/ { sub(/^[^:]*: /, ""); print; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ)"
if grep -qE 'ERROR|WARN' "$DATA_DIR/wacrm.log"; then
  echo "-- wacrm log: $(grep -cE 'ERROR|WARN' "$DATA_DIR/wacrm.log") warning/error lines; the first 10 --"
  grep -E 'ERROR|WARN' "$DATA_DIR/wacrm.log" | head -n 10 | cut -c 1-400
fi
if [ "${STATEMENTS:-0}" = 1 ]; then
  cluster_psql "ALTER SYSTEM RESET log_statement" >/dev/null
  cluster_psql "SELECT pg_reload_conf()" >/dev/null
  processed=$(cluster_psql "SELECT count(*) FROM webhook_events WHERE status = 'processed'")
  # One `LOG:  statement: …` (simple protocol) or `LOG:  execute <name>: …`
  # (extended) line per statement; its text, parameters dropped, names it.
  tail -n +"$((statements_from + 1))" "$PG_LOG" \
    | sed -nE 's/.*LOG:  (statement|execute [^:]*): *(.*)$/\2/p' \
    | tr -s ' \t' ' ' | cut -c 1-90 >"$DATA_DIR/statements.txt"
  total=$(wc -l <"$DATA_DIR/statements.txt")
  echo "-- statements during the load and the drain (log_statement = all) --"
  awk -v n="$total" -v events="$processed" 'BEGIN {
    printf "%d statements for %d processed webhook events: %.2f per event\n", n, events, events ? n / events : 0 }'
  sort "$DATA_DIR/statements.txt" | uniq -c | sort -rn | head -n 25 \
    | awk -v events="$processed" '{ count = $1; $1 = ""; printf "%8d  %5.2f/event %s\n", count, events ? count / events : 0, $0 }'
fi

if [ "${BACKLOG:-0}" = 1 ]; then
  # Processing alone, on the whole machine: the load above ran without
  # workers, so its events wait; wacrm restarts with them and the backlog is
  # timed from the moment it is ready (PostgreSQL's caches start cold).
  backlog=$(cluster_psql "SELECT count(*) FROM webhook_events WHERE status = 'pending'")
  echo "== processing the backlog: $backlog pending events, wacrm restarted with its workers =="
  [ "${PG_STATS:-0}" = 1 ] && statement_stats_preload
  stop_wacrm
  backlog_env=()
  [ -n "${WACRM_HTTP_WORKERS:-}" ] && backlog_env+=("WACRM_HTTP_WORKERS=$WACRM_HTTP_WORKERS")
  [ -n "${WACRM_DB_POOL_SIZE:-}" ] && backlog_env+=("WACRM_DB_POOL_SIZE=$WACRM_DB_POOL_SIZE")
  # Processing starts with the process, before /readyz answers: the clock
  # starts at the launch, read from the database's own clock.
  start_wacrm "${backlog_env[@]}"
  [ "${PG_STATS:-0}" = 1 ] && statement_stats_reset
  read -r busy0 total0 < <(machine_ticks)
  wacrm0=$(wacrm_ticks)
  pg0=$(postgres_ticks)
  launched=$(cluster_psql "SELECT extract(epoch FROM pg_postmaster_start_time())")
  # Every pending event has its processing job: the (small) job table says
  # when all is done, without a scan of the events while they are processed.
  idle_sql="SELECT count(*) FROM jobs WHERE status = 'running' OR (status = 'queued' AND run_at <= now())"
  waited=0
  until [ "$(cluster_psql "$idle_sql")" = 0 ]; do
    sleep 0.2
    waited=$((waited + 1))
    if [ "$waited" -ge $((BACKLOG_TIMEOUT * 5)) ]; then
      echo "the backlog was not processed within $BACKLOG_TIMEOUT s" >&2
      exit 1
    fi
  done
  idle_at=$(cluster_psql "SELECT extract(epoch FROM now())")
  read -r busy1 total1 < <(machine_ticks)
  wacrm1=$(wacrm_ticks)
  pg1=$(postgres_ticks)
  cluster_psql "SELECT count(*) FILTER (WHERE status = 'processed'), count(*) FILTER (WHERE status = 'failed'),
                       extract(epoch FROM max(processed_at))
                FROM webhook_events" | tr '|' ' ' | {
    read -r processed failed last
    awk -v n="$processed" -v failed="$failed" -v pending="$(cluster_psql "SELECT count(*) FROM webhook_events WHERE status = 'pending'")" -v last="$last" -v launched="$launched" -v idle="$idle_at" 'BEGIN {
      printf "events processed      %d  (failed: %d, still pending: %d)\n", n, failed, pending
      printf "processing rate       %.0f events/s  (%d in %.2f s, wacrm launched -> last processed_at; PostgreSQL started with it)\n", n / (last - launched), n, last - launched
      printf "follow-up jobs done   %.2f s after the launch (no job due or running)\n", idle - launched
    }'
  }
  awk -v busy=$((busy1 - busy0)) -v total=$((total1 - total0)) -v w=$((wacrm1 - wacrm0)) \
      -v pg=$((pg1 - pg0)) -v cores="$(nproc)" 'BEGIN {
    printf "CPU from ready        wacrm %.1f s, postgres %.1f s, other %.1f s, idle %.1f s (of %.0f core-s)\n", w / 100, pg / 100, busy / 100 - w / 100 - pg / 100, (total - busy) / 100, total / 100
  }'
  if [ "${PG_STATS:-0}" = 1 ]; then statement_stats_print 25; fi
fi
