#!/usr/bin/env bash
# Campaign benchmark, from a clean state: starts a fake Graph API that answers
# every send after LATENCY_MS (bench/fake_meta.py) and `wacrm serve` with a
# fresh data directory (its own embedded PostgreSQL), imports RECIPIENTS
# WhatsApp contacts, then for each rate in RATES sends a campaign to all of
# them from a number paced at that rate and prints: the time to materialise
# the recipients, the achieved rate once running (sends/s over the measured
# seconds, excluding the first and the last), the busiest second (never above
# the rate), recipients reached twice (0), and wacrm's peak memory (VmHWM).
# A run is measured for at most MEASURE_SECONDS, then the campaign is
# cancelled (100,000 recipients at 80/s would take 21 minutes).
#
#   bash bench/campaigns.sh                     # 100,000 recipients, 80 and 1000/s
#   RECIPIENTS=5000 RATES=200 MEASURE_SECONDS=15 WACRM_BIN=target/debug/wacrm bash bench/campaigns.sh
#   RECIPIENTS=2000 RATES=200 KILL_AT=400 bash bench/campaigns.sh   # two nodes, one killed
#
# With KILL_AT=N a second `wacrm serve` (workers on, same database, same
# secrets) runs beside the first, and once the fake Graph API has received N
# sends of a campaign it is killed with SIGKILL, mid-run: the first node
# must finish the campaign alone, reaching every recipient once. The script
# then prints the recipients reached, those reached twice (0) and the run's
# report (sent + delivery_unknown = audience: none lost; a send cut off
# between the provider's call and our record of it is `delivery_unknown`).
# The second node is the one killed because the first owns the embedded
# PostgreSQL (its watchdog stops the cluster when it dies).
#
# Environment: RECIPIENTS (100000), RATES ("80 1000"), LATENCY_MS (200),
# MEASURE_SECONDS (60), PG_STATS=1 (after each campaign, the statements
# that took PostgreSQL the most time, from pg_stat_statements), WACRM_BIN (a
# wacrm binary; unset: builds and uses target/release/wacrm), SKIP_BUILD=1.
# WACRM_DELIVERY_SLOTS is passed to wacrm when set. KILL_AT (sends before the
# second node is killed; unset: one node). Needs curl, psql and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

RECIPIENTS="${RECIPIENTS:-100000}"
RATES="${RATES:-80 1000}"
LATENCY_MS="${LATENCY_MS:-200}"
MEASURE_SECONDS="${MEASURE_SECONDS:-60}"
ADMIN_EMAIL="bench-admin@example.com"
ADMIN_PASSWORD="bench-password-$RANDOM$RANDOM"

if [ -n "${WACRM_BIN:-}" ]; then
  WACRM="$(realpath "$WACRM_BIN")"
else
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== building (release) =="
    cargo build --release -q -p wacrm-api
  fi
  WACRM="$PWD/target/release/wacrm"
fi

port="$(free_port)"
meta_port="$(free_port)"
URL="http://127.0.0.1:$port"
META="http://127.0.0.1:$meta_port"
DATA_DIR="$(mktemp -d /tmp/wacrm-bench.XXXXXX)"
chmod 755 "$DATA_DIR"
WACRM_PID=""
META_PID=""
NODE2_PID=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -n "$NODE2_PID" ] && kill -KILL "$NODE2_PID" 2>/dev/null || true
  stop_wacrm
  [ -n "$META_PID" ] && kill "$META_PID" 2>/dev/null || true
  rm -rf "$DATA_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 bench/fake_meta.py "$meta_port" "$(awk -v ms="$LATENCY_MS" 'BEGIN { print ms / 1000 }')" \
  >"$DATA_DIR/fake_meta.log" 2>&1 &
META_PID=$!

echo "== starting $WACRM on $URL (data: $DATA_DIR); fake Graph API on $META answering in $LATENCY_MS ms =="
# The fake Graph API is on loopback; the start-up log line of each run's
# materialisation is read back as JSON.
campaign_env=(WACRM_ALLOW_PRIVATE_TARGETS=true
  WACRM_LOG="warn,wacrm_worker::jobs::start_campaign_run=info" WACRM_LOG_FORMAT=json)
[ -n "${WACRM_DELIVERY_SLOTS:-}" ] && campaign_env+=("WACRM_DELIVERY_SLOTS=$WACRM_DELIVERY_SLOTS")
start_wacrm "${campaign_env[@]}"
if [ "${PG_STATS:-0}" = 1 ]; then
  # pg_stat_statements is loaded at the cluster's start: once more, with it.
  statement_stats_preload
  stop_wacrm
  start_wacrm "${campaign_env[@]}"
fi
if [ -n "${KILL_AT:-}" ]; then
  # The second node: the first's database (over its socket) and data
  # directory (its secrets: the connection's credentials must open).
  port2="$(free_port)"
  unset_env=(-u DATABASE_URL)
  for name in $(compgen -e | grep '^WACRM_'); do unset_env+=(-u "$name"); done
  env "${unset_env[@]}" "${campaign_env[@]}" \
      DATABASE_URL="host='$DATA_DIR/postgres/run' user=wacrm dbname=wacrm" \
      WACRM_DATA_DIR="$DATA_DIR" WACRM_LISTEN="127.0.0.1:$port2" \
      "$WACRM" serve >>"$DATA_DIR/node2.log" 2>&1 &
  NODE2_PID=$!
  for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "http://127.0.0.1:$port2/readyz" || true)" = 200 ] && break
    kill -0 "$NODE2_PID" 2>/dev/null || { echo "the second node exited:" >&2; cat "$DATA_DIR/node2.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "== a second node (pid $NODE2_PID) on 127.0.0.1:$port2, same database; killed after $KILL_AT sends =="
fi

field() { python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[int(k)] if k.isdigit() else v[k]
print(v if v is not None else "")' "$1"; }
memory() { awk '/^VmHWM:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$WACRM_PID/status"; }
api() { # METHOD PATH [BODY]: the answer's body; fails on a status >= 400
  local answer status
  answer="$(curl -s --noproxy '*' -w '\n%{http_code}' -X "$1" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' ${3:+-d "$3"} "$URL$2")"
  status="$(tail -n 1 <<<"$answer")"
  if [ "$status" -ge 400 ]; then echo "$1 $2 answered $status: $(head -n -1 <<<"$answer")" >&2; return 1; fi
  head -n -1 <<<"$answer"
}

token="$(curl -s --noproxy '*' -H 'content-type: application/json' \
  -d "{\"email\": \"$ADMIN_EMAIL\", \"password\": \"$ADMIN_PASSWORD\"}" \
  "$URL/api/v1/auth/login" | field access_token)"

connection="$(api POST /api/v1/connections "{\"provider\": \"meta\", \"name\": \"bench\", \"base_url\": \"$META\",
  \"credentials\": {\"access_token\": \"EAAG-bench\", \"app_secret\": \"bench-secret\", \"verify_token\": \"v\", \"waba_id\": \"102290129340398\"}}" | field id)"
api POST /api/v1/templates/sync '{}' >/dev/null
for _ in $(seq 1 100); do
  api GET /api/v1/templates | grep -q bench_promo && break
  sleep 0.2
done

echo "== importing $RECIPIENTS contacts =="
CSV="$DATA_DIR/contacts.csv"
python3 - "$RECIPIENTS" "$CSV" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as out:
    out.write("phone,name,code\n")
    for n in range(1, rows + 1):
        out.write(f"+254{700000000 + n},Customer {n},C{n}\n")
PY
t0=$(date +%s.%N)
import_id="$(curl -s --noproxy '*' -H "authorization: Bearer $token" -F "file=@$CSV;type=text/csv" \
  -F 'options={"mapping": {"phone": "phone", "name": "name", "code": "custom_fields.code"}, "on_duplicate": "update"};type=application/json' \
  "$URL/api/v1/whatsapp-contacts/import" | field id)"
until [ "$(api GET "/api/v1/whatsapp-contacts/import/$import_id" | field status)" = completed ]; do sleep 1; done
echo "imported in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s; wacrm VmHWM $(memory)"

n=0
for rate in $RATES; do
  n=$((n + 1))
  number="$(api POST /api/v1/numbers "{\"connection_id\": \"$connection\", \"phone\": \"+1555010$((1000 + n))\",
    \"provider_number_id\": \"10654035224292$n\", \"messages_per_second\": $rate}" | field id)"
  campaign="$(api POST /api/v1/campaigns "{\"name\": \"bench $rate/s\", \"audience\": {\"whatsapp_contacts\": {}},
    \"number_id\": \"$number\", \"template\": {\"name\": \"bench_promo\", \"language\": \"en_US\"},
    \"parameters\": {\"body\": [{\"value\": \"{{name}}\"}, {\"value\": \"{{custom_fields.code}}\"}]},
    \"schedule\": {\"type\": \"onetime\"}}" | field id)"
  before="$(curl -s --noproxy '*' "$META/stats" | field sent)"
  echo "== campaign at $rate/s to $RECIPIENTS recipients =="
  [ "${PG_STATS:-0}" = 1 ] && statement_stats_reset
  api POST "/api/v1/campaigns/$campaign/start" '{}' >/dev/null
  started=$(date +%s)
  read -r busy0 total0 < <(machine_ticks)
  wacrm0=$(wacrm_ticks); pg0=$(postgres_ticks); meta0=$(awk '{ print $14 + $15 }' "/proc/$META_PID/stat")
  ticks=0
  while :; do
    status="$(api GET "/api/v1/campaigns/$campaign" | field status)"
    [ "$status" = completed ] && break
    if [ -n "$NODE2_PID" ] && [ $(( $(curl -s --noproxy '*' "$META/stats" | field sent) - before )) -ge "$KILL_AT" ]; then
      kill -KILL "$NODE2_PID"
      wait "$NODE2_PID" 2>/dev/null || true
      echo "  killed the second node (SIGKILL) after $(( $(curl -s --noproxy '*' "$META/stats" | field sent) - before )) sends"
      NODE2_PID=""
    fi
    [ $(( $(date +%s) - started )) -ge "$MEASURE_SECONDS" ] && break
    sleep 1
    ticks=$((ticks + 1))
    if [ $((ticks % 10)) = 0 ]; then
      # Handed to the outbox vs sent: a gap near half a second of the rate
      # means the dispatcher keeps up and delivery sets the pace.
      run="$(api GET "/api/v1/campaigns/$campaign/runs" | field 0.id)"
      api GET "/api/v1/campaigns/runs/$run/report" | python3 -c 'import json, sys
r = json.load(sys.stdin)
q, n, f = r["queued"], r["sent"], r["failed"]
print(f"  after {sys.argv[1]} s: queued {q}, sent {n}, waiting in the outbox {q - n - f}")' "$ticks"
    fi
  done
  read -r busy1 total1 < <(machine_ticks)
  wacrm1=$(wacrm_ticks); pg1=$(postgres_ticks); meta1=$(awk '{ print $14 + $15 }' "/proc/$META_PID/stat")
  [ "$status" = completed ] || api POST "/api/v1/campaigns/$campaign/cancel" '{}' >/dev/null
  sleep 2
  curl -s --noproxy '*' "$META/stats" >"$DATA_DIR/stats.json"
  python3 - "$rate" "$before" "$DATA_DIR/stats.json" "$DATA_DIR/wacrm.log" "$n" <<'PY'
import json, sys
rate, before, stats, log, n = int(sys.argv[1]), int(sys.argv[2]), json.load(open(sys.argv[3])), sys.argv[4], int(sys.argv[5])
seconds = [(s, c) for s, c in stats["per_second"]]
# This run's seconds: the sends after `before` (runs do not overlap).
total = 0
mine = []
for s, c in seconds:
    if total >= before:
        mine.append((s, c))
    total += c
steady = [c for _, c in mine[1:-1]]
achieved = sum(steady) / len(steady) if steady else 0
busiest = max((c for _, c in mine), default=0)
runs = []
for line in open(log):
    try:
        fields = json.loads(line)
    except ValueError:
        continue
    if fields.get("message") == "campaign run materialised":
        runs.append(fields)
run = runs[n - 1] if len(runs) >= n else {}
print(f"materialised {run.get('recipients', '?')} recipients in {run.get('elapsed_ms', '?')} ms")
print("sends per second: " + " ".join(str(c) for _, c in mine))
print(f"sent {sum(c for _, c in mine)} over {len(mine)} s; achieved {achieved:.1f}/s once running "
      f"({achieved / rate * 100:.1f}% of {rate}/s); busiest second {busiest} "
      f"({'within' if busiest <= rate else 'OVER'} the limit); recipients reached twice so far: {stats['repeated']}")
PY
  if [ -n "${KILL_AT:-}" ]; then
    run="$(api GET "/api/v1/campaigns/$campaign/runs" | field 0.id)"
    api GET "/api/v1/campaigns/runs/$run/report" | python3 -c 'import json, sys
r, stats = json.load(sys.stdin), json.load(open(sys.argv[1]))
unknown = sum(x["count"] for x in r["reasons"] if x["reason"] == "delivery_unknown")
reached, twice = stats["recipients"], stats["repeated"]
audience, sent, failed, pending = r["audience"], r["sent"], r["failed"], r["pending"]
lost = audience - r["skipped"] - sent - failed - pending
print(f"after the kill: campaign {sys.argv[2]}; the fake Graph API reached {reached} recipients, {twice} of them twice")
print(f"report: audience {audience}, sent {sent}, delivery_unknown {unknown}, "
      f"other failures {failed - unknown}, pending {pending}; lost: {lost}")' "$DATA_DIR/stats.json" "$status"
  fi
  echo "wacrm VmHWM $(memory)"
  awk -v busy=$((busy1 - busy0)) -v total=$((total1 - total0)) -v w=$((wacrm1 - wacrm0)) \
      -v pg=$((pg1 - pg0)) -v meta=$((meta1 - meta0)) 'BEGIN {
    printf "CPU while sending: wacrm %.1f s, postgres %.1f s, fake Graph API %.1f s, other %.1f s, idle %.1f s (of %.0f core-s)\n", w / 100, pg / 100, meta / 100, busy / 100 - w / 100 - pg / 100 - meta / 100, (total - busy) / 100, total / 100
  }'
  [ "${PG_STATS:-0}" = 1 ] && statement_stats_print 25
done
echo "machine: $(nproc) cores, $(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ); binary $WACRM"
if grep -qE 'ERROR' "$DATA_DIR/wacrm.log"; then
  echo "-- wacrm log: $(grep -cE 'ERROR' "$DATA_DIR/wacrm.log") error lines; the first 5 --"
  grep -E 'ERROR' "$DATA_DIR/wacrm.log" | head -n 5 | cut -c 1-400
fi
