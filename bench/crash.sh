#!/usr/bin/env bash
# Crash benchmark: kill -9 `wacrm serve` while it ingests signed Meta webhooks,
# start it again at once on the same data directory, and print how long the
# webhooks acknowledged before the kill waited to be processed after the
# restart (the last of them above all).
#
#   bash bench/crash.sh                        # 30 s of load, the kill at 10 s
#   DURATION=40 KILL_AT=15 bash bench/crash.sh
#
# Environment: DURATION (s of load, default 30), KILL_AT (s into the load,
# default 10), CONCURRENCY (default 64), SENDERS (default 20000),
# DRAIN_TIMEOUT (s, default 420: more than the five-minute lease of the
# runner before issue 14), SKIP_BUILD=1 (use the binaries in target/release),
# BIN_DIR (take wacrm and ingest-bench from there instead, e.g. another
# checkout's target/release, to measure it).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

DURATION="${DURATION:-30}"
KILL_AT="${KILL_AT:-10}"
CONCURRENCY="${CONCURRENCY:-64}"
SENDERS="${SENDERS:-20000}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-420}"
ADMIN_EMAIL="bench-admin@example.com"
ADMIN_PASSWORD="bench-password-$RANDOM$RANDOM"

if [ -z "${BIN_DIR:-}" ] && [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building (release) =="
  cargo build --release -q -p wacrm-api
  cargo build --release -q -p wacrm-bench-ingest
fi
BIN_DIR="${BIN_DIR:-$PWD/target/release}"
WACRM="$BIN_DIR/wacrm"
GENERATOR="$BIN_DIR/ingest-bench"

port="$(free_port)"
URL="http://127.0.0.1:$port"

DATA_DIR="$(mktemp -d /tmp/wacrm-crash.XXXXXX)"
chmod 755 "$DATA_DIR"
WACRM_PID=""
GENERATOR_PID=""

# The embedded cluster, over its unix socket (trust for local users).
sql() {
  psql -X -q -t -A -h "$DATA_DIR/postgres/run" -U wacrm -d wacrm -c "$1"
}

start_wacrm() {
  env -u DATABASE_URL -u WACRM_PUBLIC_URL -u WACRM_MASTER_KEY -u WACRM_JWT_SECRET \
      -u WACRM_ENV -u WACRM_MEDIA_URL -u WACRM_RUN_WORKERS -u WACRM_LOG_FORMAT \
      WACRM_DATA_DIR="$DATA_DIR" WACRM_LISTEN="127.0.0.1:$port" \
      WACRM_ADMIN_EMAIL="$ADMIN_EMAIL" WACRM_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
      WACRM_LOG=warn \
      "$WACRM" serve >>"$DATA_DIR/wacrm.log" 2>&1 &
  WACRM_PID=$!
  local started
  started=$(date +%s)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "$URL/readyz" || true)" = "200" ]; do
    if ! kill -0 "$WACRM_PID" 2>/dev/null; then
      echo "wacrm exited during start-up:" >&2
      tail -n 50 "$DATA_DIR/wacrm.log" >&2
      exit 1
    fi
    if [ $(( $(date +%s) - started )) -ge 120 ]; then
      echo "wacrm was not ready within 120 s" >&2
      exit 1
    fi
    sleep 0.05
  done
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$GENERATOR_PID" ]; then kill "$GENERATOR_PID" 2>/dev/null || true; fi
  local pg
  pg="$(postmaster_pid)"
  if [ -n "$WACRM_PID" ] && kill -0 "$WACRM_PID" 2>/dev/null; then
    kill -TERM "$WACRM_PID" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$WACRM_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$WACRM_PID" 2>/dev/null || true
    wait "$WACRM_PID" 2>/dev/null || true
  fi
  if [ -n "$pg" ]; then
    for _ in $(seq 1 100); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
    kill -INT "$pg" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$DATA_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting wacrm on $URL (data: $DATA_DIR) =="
start_wacrm

echo "== load: ${DURATION} s, ${CONCURRENCY} in flight; kill -9 at ${KILL_AT} s =="
WACRM_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$GENERATOR" \
  --url "$URL" --email "$ADMIN_EMAIL" \
  --duration "$DURATION" --concurrency "$CONCURRENCY" --senders "$SENDERS" \
  --drain-timeout "$DRAIN_TIMEOUT" --skip-conversation-count "$@" \
  >"$DATA_DIR/report.txt" 2>&1 &
GENERATOR_PID=$!

sleep "$KILL_AT"
kill_at=$(date +%s.%N)
kill -KILL "$WACRM_PID"
wait "$WACRM_PID" 2>/dev/null || true
# The embedded cluster's watchdog stops it when wacrm dies; let it finish
# before starting again (a stopping cluster would be taken for a running one).
pg="$(postmaster_pid)"
for _ in $(seq 1 300); do { [ -n "$pg" ] && kill -0 "$pg" 2>/dev/null; } || break; sleep 0.05; done
restart_at=$(date +%s.%N)
start_wacrm
ready_at=$(date +%s.%N)
echo "killed; restarted after $(awk -v a="$kill_at" -v b="$restart_at" 'BEGIN { printf "%.1f", b - a }') s (the embedded PostgreSQL stopped and started with it); ready $(awk -v a="$restart_at" -v b="$ready_at" 'BEGIN { printf "%.1f", b - a }') s later"

echo "== waiting for the load to end and the backlog to drain (up to ${DRAIN_TIMEOUT} s) =="
wait "$GENERATOR_PID" || true
GENERATOR_PID=""
grep -E '^(sent|accepted|non-200|transport|requests|processing|drain|failed|dead)' "$DATA_DIR/report.txt" || tail -n 20 "$DATA_DIR/report.txt"

echo "-- the webhooks acknowledged before the kill --"
sql "SELECT
       'acknowledged before the kill      ' || count(*) || E'\n' ||
       'unprocessed when it was killed     ' || count(*) FILTER (WHERE processed_at IS NULL OR processed_at > to_timestamp($kill_at)) || E'\n' ||
       'still pending now                  ' || count(*) FILTER (WHERE status = 'pending') || E'\n' ||
       'the last one processed             ' || coalesce(to_char(extract(epoch FROM max(processed_at) - to_timestamp($ready_at)), 'FM9990.00') || ' s after wacrm was ready again (' || to_char(extract(epoch FROM max(processed_at) - to_timestamp($kill_at)), 'FM9990.00') || ' s after the kill)', 'never')
     FROM webhook_events WHERE received_at < to_timestamp($kill_at)"
sql "SELECT 'jobs left: ' || count(*) FILTER (WHERE status = 'queued') || ' queued, ' || count(*) FILTER (WHERE status = 'running') || ' running, ' || count(*) FILTER (WHERE status = 'dead') || ' dead' FROM jobs"
echo "machine                $(nproc) cores, $(awk '/^model name/ { sub(/^[^:]*: /, ""); print; exit }' /proc/cpuinfo); $(date -u +%Y-%m-%dT%H:%MZ)"
