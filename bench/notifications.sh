#!/usr/bin/env bash
# CRM-event notification benchmark, from a clean state: starts a fake Graph API
# (python3, answers every send 200) and `wacrm serve` on 127.0.0.1 with a fresh
# data directory (its own embedded PostgreSQL, workers on), sets up a Meta
# connection pointed at the fake, a number (messages_per_second 1000), an
# approved template and a mapping `after_payment_added` -> that template to the
# event's `payment.phone`, then sends EVENTS distinct `POST /api/v1/events`
# (one phone each, so one new conversation each) with CONCURRENCY in flight,
# and prints:
#   - events/s acknowledged (202: the event and its job committed) and the
#     request latency;
#   - notifications/s: events turned into queued template messages (log rows
#     `sent`, each with its message and delivery job), from the first request
#     to the last one logged;
#   - deliveries/s: templates received by the fake Graph API (paced at the
#     number's 1000 messages/s, so this one is bounded by the pacing).
# Then stops wacrm (which stops PostgreSQL) and the fake, and removes everything.
#
#   bash bench/notifications.sh                                      # 10,000 events, release build
#   EVENTS=500 WACRM_BIN=/path/to/debug/wacrm bash bench/notifications.sh   # quick check
#
# Environment: EVENTS (default 10000), CONCURRENCY (default 32), WACRM_BIN (a
# wacrm binary; unset: builds and uses target/release/wacrm), SKIP_BUILD=1,
# TIMEOUT (s, default 600). Needs curl, python3 and psql.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

EVENTS="${EVENTS:-10000}"
CONCURRENCY="${CONCURRENCY:-32}"
TIMEOUT="${TIMEOUT:-600}"
ADMIN_EMAIL="bench-admin@example.com"
ADMIN_PASSWORD="bench-password-$RANDOM$RANDOM"
PHONE_NUMBER_ID="106540352242922"
command -v psql >/dev/null || { echo "psql is needed (the notification log is counted with it)" >&2; exit 1; }

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
graph_port="$(free_port)"
URL="http://127.0.0.1:$port"
GRAPH="http://127.0.0.1:$graph_port"
DATA_DIR="$(mktemp -d /tmp/wacrm-bench.XXXXXX)"
# As root, the embedded cluster runs as `postgres`/`nobody`, which must be able
# to enter the data directory.
chmod 755 "$DATA_DIR"
WACRM_PID=""
GRAPH_PID=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_wacrm
  if [ -n "$GRAPH_PID" ]; then kill "$GRAPH_PID" 2>/dev/null || true; wait "$GRAPH_PID" 2>/dev/null || true; fi
  rm -rf "$DATA_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The fake Graph API: every POST .../messages is accepted under its own wamid;
# GET /count answers how many arrived and when the last one did.
python3 - "$graph_port" >"$DATA_DIR/graph.log" 2>&1 <<'PY' &
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
lock, state = threading.Lock(), {"count": 0, "last": 0.0}
class Graph(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        with lock: self.reply(dict(state))
    def do_POST(self):
        sent = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        with lock:
            state["count"] += 1; state["last"] = time.time(); n = state["count"]
        self.reply({"messaging_product": "whatsapp", "contacts": [{"input": sent.get("to"), "wa_id": sent.get("to")}],
                    "messages": [{"id": f"wamid.BENCH{n}"}]})
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Graph).serve_forever()
PY
GRAPH_PID=$!

echo "== starting $WACRM on $URL (data: $DATA_DIR), fake Graph API on $GRAPH =="
# Loopback is allowed past the egress guard for the fake (WACRM_ALLOW_PRIVATE_TARGETS).
env -u DATABASE_URL -u WACRM_PUBLIC_URL -u WACRM_MASTER_KEY -u WACRM_JWT_SECRET \
    -u WACRM_ENV -u WACRM_MEDIA_URL -u WACRM_RUN_WORKERS -u WACRM_LOG_FORMAT \
    -u WACRM_HTTP_WORKERS -u WACRM_DB_POOL_SIZE -u WACRM_DEFAULT_COUNTRY \
    WACRM_DATA_DIR="$DATA_DIR" WACRM_LISTEN="127.0.0.1:$port" WACRM_ALLOW_PRIVATE_TARGETS=true \
    WACRM_ADMIN_EMAIL="$ADMIN_EMAIL" WACRM_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    WACRM_LOG=warn \
    "$WACRM" serve >"$DATA_DIR/wacrm.log" 2>&1 &
WACRM_PID=$!

wait_ready

# The set-up and the load, in one python3 process; prints the figures.
python3 - "$URL" "$GRAPH" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" "$EVENTS" "$CONCURRENCY" "$TIMEOUT" \
    "$PHONE_NUMBER_ID" "$DATA_DIR/postgres/run" <<'PY'
import http.client, json, subprocess, sys, threading, time, urllib.request
from datetime import datetime, timezone
url, graph, email, password = sys.argv[1:5]
events, concurrency, timeout = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
number_id, socket_dir = sys.argv[8], sys.argv[9]

def call(method, path, body=None, token=None, key=None):
    request = urllib.request.Request(url + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"})
    if token: request.add_header("authorization", f"Bearer {token}")
    if key: request.add_header("x-api-key", key)
    try:
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        sys.exit(f"{method} {path} answered {error.code}: {error.read().decode()}")

def sql(query):
    return subprocess.run(["psql", "-X", "-q", "-t", "-A", "-h", socket_dir, "-U", "wacrm", "-d", "wacrm", "-c", query],
                          check=True, capture_output=True, text=True).stdout.strip()

token = call("POST", "/api/v1/auth/login", {"email": email, "password": password})["access_token"]
connection = call("POST", "/api/v1/connections", {"provider": "meta", "name": "bench", "base_url": graph,
    "credentials": {"access_token": "bench-token", "app_secret": "bench-secret", "verify_token": "v", "waba_id": "102290129340398"}}, token)
number = call("POST", "/api/v1/numbers", {"connection_id": connection["id"], "phone": "+15550100999",
    "provider_number_id": number_id, "is_default": True, "messages_per_second": 1000}, token)
call("POST", "/api/v1/templates", {"connection_id": connection["id"], "name": "payment_received", "language": "en",
    "category": "UTILITY", "components": [{"type": "BODY", "text": "We received {{1}} {{2}}, thank you"}]}, token)
call("POST", "/api/v1/notification-mappings", {"name": "payment received", "event_type": "after_payment_added",
    "number_id": number["id"], "template": {"name": "payment_received", "language": "en"},
    "send_to": {"type": "phone_field", "path": "payment.phone"},
    "parameters": {"body": [{"value": "{{payment.amount}}"}, {"value": "{{payment.currency}}"}]}}, token)
key = call("POST", "/api/v1/api-keys", {"name": "bench", "permissions": ["crm_events:create"]}, token)["secret"]

host, port = url.removeprefix("http://").split(":")
latencies, failures, lock = [], [], threading.Lock()
def worker(first):
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    for n in range(first, events, concurrency):
        body = json.dumps({"id": f"payment-{n}", "type": "after_payment_added",
            "occurred_at": datetime.now(timezone.utc).isoformat(),
            "data": {"amount": 100 + n, "currency": "KES", "phone": f"+2547{10000000 + n}"}})
        started = time.perf_counter()
        conn.request("POST", "/api/v1/events", body, {"content-type": "application/json", "x-api-key": key})
        answer = conn.getresponse(); answer.read()
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            if answer.status != 202: failures.append(answer.status)

print(f"== {events} events, {concurrency} in flight ==")
t0 = time.time()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
for thread in threads: thread.start()
for thread in threads: thread.join()
t_acked = time.time()
latencies.sort()
q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
print(f"acknowledged: {len(latencies) - len(failures)} x 202, {len(failures)} other ({sorted(set(failures))[:5]}) in {t_acked - t0:.2f} s: "
      f"{len(latencies) / (t_acked - t0):,.0f} events/s; latency p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {latencies[-1] * 1000:.1f} ms")

t_logged = t_delivered = None
while time.time() - t0 < timeout:
    sent, other = map(int, sql("SELECT count(*) FILTER (WHERE outcome = 'sent'), count(*) FILTER (WHERE outcome <> 'sent') FROM notifications").split("|"))
    if t_logged is None and sent + other >= events:
        t_logged = time.time()
        print(f"notifications: {sent} sent (queued with their message), {other} not sent; "
              f"{sent / (t_logged - t0):,.0f} notifications/s from the first request ({t_logged - t0:.2f} s)")
    delivered = json.loads(urllib.request.urlopen(graph + "/count").read())
    if delivered["count"] >= events:
        t_delivered = delivered["last"]
        print(f"deliveries: {delivered['count']} templates at the fake Graph API; {delivered['count'] / (t_delivered - t0):,.0f}/s "
              f"from the first request ({t_delivered - t0:.2f} s; paced at the number's 1000 messages/s)")
        break
    time.sleep(0.2)
else:
    print(f"timed out after {timeout:.0f} s: {sql('SELECT outcome, count(*) FROM notifications GROUP BY 1')}; "
          f"pending events {sql('SELECT count(*) FROM crm_events WHERE processed_at IS NULL')}")
print("log outcomes:", sql("SELECT string_agg(outcome || ' ' || coalesce(reason, '') || ' ' || n, ', ') FROM (SELECT outcome, reason, count(*) AS n FROM notifications GROUP BY 1, 2) AS o"))
PY
echo "machine: $(nproc) cores, $(awk '/^model name/ { sub(/^[^:]*: /, ""); print; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ); binary $WACRM"
if grep -qE 'ERROR|WARN' "$DATA_DIR/wacrm.log"; then
  echo "-- wacrm log: $(grep -cE 'ERROR|WARN' "$DATA_DIR/wacrm.log") warning/error lines; the first 10 --"
  grep -E 'ERROR|WARN' "$DATA_DIR/wacrm.log" | head -n 10 | cut -c 1-400
fi
