#!/usr/bin/env bash
# Webhook fan-out benchmark, from a clean state: builds wacrm and the
# generator (release unless PROFILE=debug), starts `wacrm serve` on 127.0.0.1
# with a fresh data directory (its own embedded PostgreSQL), registers
# ENDPOINTS webhook endpoints on a local Standard Webhooks receiver, creates
# LEADS leads (one `lead.created` event each) and prints the rate at which the
# deliveries reached the receiver; then stops wacrm and removes everything.
#
#   bash bench/webhooks.sh                            # 1000 events x 10 endpoints
#   LEADS=2000 ENDPOINTS=5 bash bench/webhooks.sh
#   PROFILE=debug bash bench/webhooks.sh              # a relative figure, no release build
#
# Environment: LEADS (default 1000), ENDPOINTS (default 10), CONCURRENCY (lead
# creations in flight, default 16), TIMEOUT (s to wait for the deliveries,
# default 300), PROFILE (release | debug), SKIP_BUILD=1 (use the binaries
# already built), WACRM_WEBHOOK_CONCURRENCY (passed to wacrm when set).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

LEADS="${LEADS:-1000}"
ENDPOINTS="${ENDPOINTS:-10}"
CONCURRENCY="${CONCURRENCY:-16}"
TIMEOUT="${TIMEOUT:-300}"
PROFILE="${PROFILE:-release}"
ADMIN_EMAIL="bench-admin@example.com"
ADMIN_PASSWORD="bench-password-$RANDOM$RANDOM"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building ($PROFILE) =="
  flag=(); [ "$PROFILE" = release ] && flag=(--release)
  # Two commands, not one: built together, the two would unify their
  # dependencies' features differently and rebuild wacrm.
  cargo build "${flag[@]}" -q -p wacrm-api
  cargo build "${flag[@]}" -q -p wacrm-bench-webhooks
fi
BIN="${CARGO_TARGET_DIR:-$PWD/target}/$PROFILE"
WACRM="$BIN/wacrm"
GENERATOR="$BIN/webhooks-bench"

port="$(free_port)"
URL="http://127.0.0.1:$port"
DATA_DIR="$(mktemp -d /tmp/wacrm-bench.XXXXXX)"
# As root, the embedded cluster runs as `postgres`/`nobody`, which must be able
# to enter the data directory.
chmod 755 "$DATA_DIR"
WACRM_PID=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_wacrm
  rm -rf "$DATA_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting wacrm on $URL (data: $DATA_DIR) =="
extra_env=()
[ -n "${WACRM_WEBHOOK_CONCURRENCY:-}" ] && extra_env+=("WACRM_WEBHOOK_CONCURRENCY=$WACRM_WEBHOOK_CONCURRENCY")
# The receiver is on loopback: the endpoints allow private targets one by one
# (WACRM_ALLOW_PRIVATE_TARGETS stays off).
start_wacrm "${extra_env[@]}"

echo "== $LEADS events, $ENDPOINTS endpoints, $CONCURRENCY events in flight ($PROFILE build) =="
WACRM_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$GENERATOR" \
  --url "$URL" --email "$ADMIN_EMAIL" --leads "$LEADS" --endpoints "$ENDPOINTS" \
  --concurrency "$CONCURRENCY" --timeout "$TIMEOUT" "$@"
echo "machine                 $(nproc) cores, $(awk '/^model name/ { sub(/^[^:]*: /, ""); print; exit }' /proc/cpuinfo); $(date -u +%Y-%m-%dT%H:%MZ)"
if grep -qE 'ERROR|WARN' "$DATA_DIR/wacrm.log"; then
  echo "-- wacrm log: $(grep -cE 'ERROR|WARN' "$DATA_DIR/wacrm.log") warning/error lines; the first 10 --"
  grep -E 'ERROR|WARN' "$DATA_DIR/wacrm.log" | head -n 10
fi
