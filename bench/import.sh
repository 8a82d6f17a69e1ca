#!/usr/bin/env bash
# CSV import benchmark, from a clean state: generates a CSV of WhatsApp contacts
# (several phone spellings, duplicates, bad rows), starts `wacrm serve` on
# 127.0.0.1 with a fresh data directory (its own embedded PostgreSQL), uploads
# the file to POST /api/v1/whatsapp-contacts/import, waits for the import to
# complete, and prints rows/s with wacrm's peak memory (VmHWM) before and after;
# then stops wacrm (which stops PostgreSQL) and removes everything.
#
#   bash bench/import.sh                              # 100,000 rows, release build
#   ROWS=2000 WACRM_BIN=target/debug/wacrm bash bench/import.sh   # quick check
#
# Environment: ROWS (default 100000), WACRM_BIN (a wacrm binary to use; unset:
# builds and uses target/release/wacrm), SKIP_BUILD=1 (use target/release/wacrm
# as it is), IMPORT_TIMEOUT (s, default 900). Needs curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

ROWS="${ROWS:-100000}"
IMPORT_TIMEOUT="${IMPORT_TIMEOUT:-900}"
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

# The file: Kenyan mobiles 0700000000 + n written four ways (`+254 7xx xxx
# xxx`, `07xxxxxxxx` read with default_country KE, `2547xxxxxxxx`,
# `+254-7xx-xxx-xxx`); every 50th row repeats the previous row's number in
# another spelling (a duplicate within the file), every 100th has a bad
# phone, every 250th an unknown time zone. Names are quoted with a comma
# (RFC 4180). The expected counts are printed beside the measured ones.
CSV="$DATA_DIR/contacts.csv"
python3 - "$ROWS" "$CSV" >"$DATA_DIR/expected.txt" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
spell = [
    lambda d: f"+254 {d[0:3]} {d[3:6]} {d[6:9]}",
    lambda d: f"0{d}",
    lambda d: f"254{d}",
    lambda d: f"+254-{d[0:3]}-{d[3:6]}-{d[6:9]}",
]
failed = duplicates = 0
seen = set()
with open(path, "w", newline="") as out:
    out.write("Mobile,Full name,Language,Time zone,Tags,Tier\r\n")
    for n in range(1, rows + 1):
        number = 700000000 + n
        if n % 50 == 0:
            number -= 1
        digits = str(number)
        phone = spell[n % 4](digits)
        zone = "Africa/Nairobi" if n % 3 else ""
        if n % 100 == 0:
            phone = f"not-a-phone-{n}"
        if n % 250 == 0:
            zone = "Mars/Olympus_Mons"
        if n % 100 == 0 or n % 250 == 0:
            failed += 1
        elif digits in seen:
            duplicates += 1
        else:
            seen.add(digits)
        out.write(f'{phone},"Contact {n}, Bench",en,{zone},bench;batch-{n % 7},tier-{n % 3}\r\n')
print(f"expected: rows_done {rows}, created {len(seen)}, duplicates {duplicates}, failed {failed}")
PY
echo "== file: $ROWS rows, $(( $(stat -c %s "$CSV") / 1024 )) KiB; $(cat "$DATA_DIR/expected.txt") =="

echo "== starting $WACRM on $URL (data: $DATA_DIR) =="
env -u DATABASE_URL -u WACRM_PUBLIC_URL -u WACRM_MASTER_KEY -u WACRM_JWT_SECRET \
    -u WACRM_ENV -u WACRM_MEDIA_URL -u WACRM_RUN_WORKERS -u WACRM_LOG_FORMAT \
    -u WACRM_HTTP_WORKERS -u WACRM_DB_POOL_SIZE -u WACRM_DEFAULT_COUNTRY \
    -u WACRM_IMPORT_MAX_BYTES \
    WACRM_DATA_DIR="$DATA_DIR" WACRM_LISTEN="127.0.0.1:$port" \
    WACRM_ADMIN_EMAIL="$ADMIN_EMAIL" WACRM_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    WACRM_LOG=warn \
    "$WACRM" serve >"$DATA_DIR/wacrm.log" 2>&1 &
WACRM_PID=$!

wait_ready

# A field of a JSON document on stdin (`a.b` for nested ones).
field() { python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[k]
print(v if v is not None else "")' "$1"; }
memory() { awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { printf "VmHWM %.1f MB (VmRSS %.1f MB)", h / 1024, r / 1024 }' "/proc/$WACRM_PID/status"; }

token="$(curl -s --noproxy '*' -H 'content-type: application/json' \
  -d "{\"email\": \"$ADMIN_EMAIL\", \"password\": \"$ADMIN_PASSWORD\"}" \
  "$URL/api/v1/auth/login" | field access_token)"
echo "wacrm memory before the upload: $(memory)"

options='{"mapping": {"Mobile": "phone", "Full name": "name", "Language": "language", "Time zone": "time_zone", "Tags": "labels", "Tier": "custom_fields.tier"}, "default_country": "KE", "on_duplicate": "update"}'
t0=$(date +%s.%N)
answer="$(curl -s --noproxy '*' -w '\n%{http_code}' -H "authorization: Bearer $token" \
  -F "file=@$CSV;type=text/csv" -F "options=$options;type=application/json" \
  "$URL/api/v1/whatsapp-contacts/import")"
t_uploaded=$(date +%s.%N)
status="$(tail -n 1 <<<"$answer")"
body="$(head -n -1 <<<"$answer")"
if [ "$status" != 202 ]; then
  echo "the upload was answered $status: $body" >&2
  exit 1
fi
import_id="$(field id <<<"$body")"
echo "uploaded in $(awk -v a="$t0" -v b="$t_uploaded" 'BEGIN { printf "%.2f", b - a }') s: import $import_id"

while :; do
  import="$(curl -s --noproxy '*' -H "authorization: Bearer $token" "$URL/api/v1/whatsapp-contacts/import/$import_id")"
  state="$(field status <<<"$import")"
  case "$state" in completed | failed) break ;; esac
  if [ "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print int(b - a) }')" -ge "$IMPORT_TIMEOUT" ]; then
    echo "the import did not finish within $IMPORT_TIMEOUT s: $import" >&2
    exit 1
  fi
  sleep 0.5
done
t1=$(date +%s.%N)

echo "-- import $state --"
python3 - "$import" "$t0" "$t1" <<'PY'
import json, sys
from datetime import datetime
imp = json.loads(sys.argv[1])
t0, t1 = float(sys.argv[2]), float(sys.argv[3])
def at(s): return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
job = at(imp["finished_at"]) - at(imp["started_at"])
rows = imp["rows_done"]
print(f"measured: rows_done {rows}, created {imp['created']}, updated {imp['updated']}, "
      f"skipped {imp['skipped']}, duplicates {imp['duplicates']}, failed {imp['failed']}, "
      f"errors {imp['error_count']}{', failure: ' + imp['failure'] if imp['failure'] else ''}")
print(f"rows/s: {rows / job:,.0f} in the job ({job:.2f} s from start to finish); "
      f"{rows / (t1 - t0):,.0f} end to end ({t1 - t0:.2f} s from upload start to completion seen)")
PY
cat "$DATA_DIR/expected.txt"
echo "wacrm memory after the import:  $(memory)"
echo "machine: $(nproc) cores, $(awk '/^model name/ { sub(/^[^:]*: /, ""); print; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ); binary $WACRM"
if grep -qE 'ERROR|WARN' "$DATA_DIR/wacrm.log"; then
  echo "-- wacrm log: $(grep -cE 'ERROR|WARN' "$DATA_DIR/wacrm.log") warning/error lines; the first 10 --"
  grep -E 'ERROR|WARN' "$DATA_DIR/wacrm.log" | head -n 10 | cut -c 1-400
fi
