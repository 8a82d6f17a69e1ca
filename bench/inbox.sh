#!/usr/bin/env bash
# Inbox and outbox benchmark, from a clean state: builds wacrm and inbox-bench
# (release), starts `wacrm serve` on 127.0.0.1 with a fresh data directory (its
# own embedded PostgreSQL), and runs inbox-bench against it, which:
#   - starts a fake Meta Graph API and creates a connection and a number on it,
#   - loads 100,000 conversations and 1,000,000 messages straight into
#     PostgreSQL (COPY through psql), then VACUUM ANALYZE,
#   - times the inbox list (first, filtered and deep pages) and history pages,
#     one request at a time: p50/p95/p99 against a 15 ms p95 target,
#   - queues 10,000 text messages through the API and measures the rate the
#     fake provider receives them at against the number's messages_per_second.
# Then it stops wacrm (which stops PostgreSQL) and removes everything.
#
#   bash bench/inbox.sh                         # rate 80/s (about 125 s of sending)
#   RATE=80,400 bash bench/inbox.sh             # two send phases, 80/s then 400/s
#   bash bench/inbox.sh --samples 500 --explain # extra arguments go to inbox-bench
#
# Environment: RATE (messages_per_second, comma-separated phases; default 80),
# SENDS (per phase, default 10000), TIMEOUT (s for the whole inbox-bench run,
# default 2400), WAIT_OTHERS (s to wait for another benchmark to finish,
# default 600), SKIP_BUILD=1, WACRM_HTTP_WORKERS / WACRM_DB_POOL_SIZE (passed
# to wacrm when set). See `inbox-bench --help` for the other options.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

RATE="${RATE:-80}"
SENDS="${SENDS:-10000}"
TIMEOUT="${TIMEOUT:-2400}"
WAIT_OTHERS="${WAIT_OTHERS:-600}"
ADMIN_EMAIL="inbox-bench-admin@example.com"
ADMIN_PASSWORD="inbox-bench-password-$RANDOM$RANDOM"

# Another benchmark (ingest-bench, or a `wacrm serve` other than ours) would
# distort both its figures and ours: wait for it, up to WAIT_OTHERS seconds.
# Only the programs themselves count, not shells that mention them.
other_benchmarks() {
  local pid argv0 argv1
  for pid in $(pgrep -f 'ingest-bench|wacrm serve' || true); do
    [ "$pid" = "$$" ] && continue
    [ -n "${WACRM_PID:-}" ] && [ "$pid" = "$WACRM_PID" ] && continue
    argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 1p)" || continue
    argv1="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 2p)" || continue
    case "$(basename "$argv0")" in
      ingest-bench) echo "$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" ;;
      wacrm) [ "$argv1" = serve ] && echo "$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" ;;
    esac
  done
}
wait_for_quiet() {
  local started others
  started=$(date +%s)
  while others="$(other_benchmarks)"; [ -n "$others" ]; do
    if [ $(( $(date +%s) - started )) -ge "$WAIT_OTHERS" ]; then
      echo "another benchmark is still running after ${WAIT_OTHERS} s; going ahead (figures may be distorted):" >&2
      echo "$others" >&2
      return 0
    fi
    echo "waiting for another benchmark to finish before $1:" >&2
    echo "$others" >&2
    sleep 10
  done
}

wait_for_quiet "building"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building (release) =="
  # Separately: built together, the two would unify their dependencies'
  # features differently and rebuild wacrm.
  cargo build --release -q -p wacrm-api
  cargo build --release -q -p wacrm-bench-inbox
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
WACRM="$TARGET_DIR/release/wacrm"
BENCH="$TARGET_DIR/release/inbox-bench"
command -v psql >/dev/null || { echo "psql is needed (the load goes through it)" >&2; exit 1; }

port="$(free_port)"
URL="http://127.0.0.1:$port"

DATA_DIR="$(mktemp -d /tmp/wacrm-inbox.XXXXXX)"
# As root, the embedded cluster runs as `postgres`/`nobody`, which must be able
# to enter the data directory.
chmod 755 "$DATA_DIR"
WACRM_PID=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local pg
  pg="$(postmaster_pid)"
  if [ -n "$WACRM_PID" ] && kill -0 "$WACRM_PID" 2>/dev/null; then
    kill -TERM "$WACRM_PID" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$WACRM_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$WACRM_PID" 2>/dev/null; then
      echo "wacrm did not stop within 30 s; killing it" >&2
      kill -KILL "$WACRM_PID" 2>/dev/null || true
    fi
    wait "$WACRM_PID" 2>/dev/null || true
  fi
  # wacrm stops its cluster on shutdown (a watchdog does if it died); make
  # sure before removing the directory.
  if [ -n "$pg" ]; then
    for _ in $(seq 1 100); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pg" 2>/dev/null; then
      echo "the embedded PostgreSQL (pid $pg) is still up; stopping it" >&2
      kill -INT "$pg" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -rf "$DATA_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_quiet "starting wacrm"
echo "== starting wacrm on $URL (data: $DATA_DIR) =="
extra_env=()
[ -n "${WACRM_HTTP_WORKERS:-}" ] && extra_env+=("WACRM_HTTP_WORKERS=$WACRM_HTTP_WORKERS")
[ -n "${WACRM_DB_POOL_SIZE:-}" ] && extra_env+=("WACRM_DB_POOL_SIZE=$WACRM_DB_POOL_SIZE")
# The workers call the fake provider on 127.0.0.1: no proxy in between, and
# loopback allowed past the egress guard (WACRM_ALLOW_PRIVATE_TARGETS).
env -u DATABASE_URL -u WACRM_PUBLIC_URL -u WACRM_MASTER_KEY -u WACRM_JWT_SECRET \
    -u WACRM_ENV -u WACRM_MEDIA_URL -u WACRM_RUN_WORKERS -u WACRM_LOG_FORMAT \
    -u WACRM_HTTP_WORKERS -u WACRM_DB_POOL_SIZE -u WACRM_META_GRAPH_VERSION \
    -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
    NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
    WACRM_DATA_DIR="$DATA_DIR" WACRM_LISTEN="127.0.0.1:$port" WACRM_ALLOW_PRIVATE_TARGETS=true \
    WACRM_ADMIN_EMAIL="$ADMIN_EMAIL" WACRM_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    WACRM_LOG=warn "${extra_env[@]}" \
    "$WACRM" serve >"$DATA_DIR/wacrm.log" 2>&1 &
WACRM_PID=$!

started=$(date +%s)
until [ "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "$URL/readyz" || true)" = "200" ]; do
  if ! kill -0 "$WACRM_PID" 2>/dev/null; then
    echo "wacrm exited during start-up:" >&2
    cat "$DATA_DIR/wacrm.log" >&2
    exit 1
  fi
  if [ $(( $(date +%s) - started )) -ge 120 ]; then
    echo "wacrm was not ready within 120 s:" >&2
    tail -n 50 "$DATA_DIR/wacrm.log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "ready after $(( $(date +%s) - started )) s"

bench_status=0
WACRM_ADMIN_PASSWORD="$ADMIN_PASSWORD" timeout --signal=INT --kill-after=30 "$TIMEOUT" \
  "$BENCH" --url "$URL" --email "$ADMIN_EMAIL" --data-dir "$DATA_DIR" \
  --server-pid "$WACRM_PID" --wait-others "$WAIT_OTHERS" \
  --rate "$RATE" --sends "$SENDS" "$@" || bench_status=$?
if [ "$bench_status" -eq 124 ]; then
  echo "inbox-bench did not finish within TIMEOUT=${TIMEOUT} s" >&2
fi

echo "code                   commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- crates migrations 2>/dev/null || echo ' + uncommitted changes in crates/ or migrations/'), wacrm built $(date -u -r "$WACRM" +%Y-%m-%dT%H:%MZ)"
echo "wacrm peak RSS         $(awk '/^VmHWM:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$WACRM_PID/status" 2>/dev/null || echo '?')"
echo "machine                $(nproc) cores, $(awk '/^model name/ { sub(/^[^:]*: /, ""); print; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo); PostgreSQL $(psql --version | awk '{ print $3 }') (embedded, default settings); $(date -u +%Y-%m-%dT%H:%MZ)"
if ! kill -0 "$WACRM_PID" 2>/dev/null; then
  echo "wacrm DIED during the run; the end of its log:" >&2
  tail -n 50 "$DATA_DIR/wacrm.log" >&2
  exit 1
fi
if grep -qE 'ERROR|WARN' "$DATA_DIR/wacrm.log"; then
  echo "-- wacrm log: $(grep -cE 'ERROR|WARN' "$DATA_DIR/wacrm.log") warning/error lines; the first 10 --"
  grep -E 'ERROR|WARN' "$DATA_DIR/wacrm.log" | head -n 10 | cut -c 1-400
fi
exit "$bench_status"
