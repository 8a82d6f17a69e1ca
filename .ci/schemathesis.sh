#!/usr/bin/env bash
# Schema-driven API testing: starts wacrm on its own embedded PostgreSQL, signs in
# as an admin (bearer token and an admin API key, both valid), and runs
# Schemathesis over the whole served OpenAPI document with a bounded number of
# examples per operation. Any server error, undocumented status, response that
# does not match its schema, or mishandled credential fails the run.
#
# No failure is accepted: there is no baseline. The document declares every
# rule a schema can state (types, lengths, patterns, enums, one-of shapes such as
# a bot's trigger and response, a message's template and interactive content,
# a connection's credentials per provider, `snooze_until` only with `snoozed`,
# a dry run's `conversation_id` or `phone`), and the handlers accept exactly that.
# What no schema can say is answered by design, and only that is let through:
# - `.ci/schemathesis_hooks.py`'s `filter_failure` drops a schema-valid request's
#   refusal only when its status, problem `code` and every field at fault are
#   listed there for the operation (`BY_DESIGN`, each with its reason): records
#   that must exist (the fuzzer makes up ids: `invalid_reference`, a
#   connection, a number), times that must be in the future (`expires_at`,
#   `snooze_until`), rules across fields or values (date ranges, consent words
#   that fold to the same, notification field paths, a bot's menus and flows,
#   a Flow message's `flow_id` or `flow_name`, a list's rows in all, template
#   components), URLs whose host must parse and be a public address, the state
#   of a template, a customer or a connection's provider, and a contact import's
#   CSV file. Any other refusal, on any operation, fails the run;
# - the same hook drops a "schema-violating request accepted" only when the body
#   passes the operation's own schema (formats asserted): Schemathesis 4.32's
#   coverage phase reports such bodies (an optional property left out as a
#   "missing required property", a nullable id sent as `null`);
# - `.ci/schemathesis.toml` says the same for three operations as a whole
#   (quick-reply render and auto-lead settings, whose only 422 is a missing
#   record; sending by phone's 503 `provider_not_configured`, as this run
#   configures no provider connection);
# - phones: libphonenumber's rules, which no pattern can mirror, are named
#   `format: phone` in the document and generated from valid phones by the hooks.
# A new kind of failure is fixed at its cause (the document or the handler), or,
# when it is one no schema can state, added to `BY_DESIGN` with its reason.
#
# Strings never carry U+0000 (`--generation-allow-x00 false`): the API refuses it
# on purpose, with 422 `invalid_character` (PostgreSQL's text cannot hold it).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION="4.32.5"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-10}"
target="${CARGO_TARGET_DIR:-target}"
venv="$target/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --locked --quiet -p wacrm-api
work="$(mktemp -d)"
# The embedded cluster may run as another user (PostgreSQL refuses root).
chmod 755 "$work"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
env -u DATABASE_URL \
  WACRM_LISTEN="127.0.0.1:$port" WACRM_DATA_DIR="$work" WACRM_LOG=warn \
  WACRM_ADMIN_EMAIL=schemathesis@example.com WACRM_ADMIN_PASSWORD=schemathesis-password \
  "$target/debug/wacrm" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT

for _ in $(seq 1 120); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "$base/readyz" >/dev/null || { cat "$work/server.log"; exit 1; }

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
token="$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"schemathesis@example.com","password":"schemathesis-password"}' | json_field access_token)"
key="$(curl -fsS -X POST "$base/api/v1/api-keys" -H "authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"name":"schemathesis","permissions":["admin"]}' | json_field secret)"

# Logout would end the session the run signs in with; the event stream never ends.
# One worker: Hypothesis describes strategies through Python's `ast`, which fails at
# random ("AST constructor recursion depth mismatch") when two threads do it at once.
report="$work/report.txt"
SCHEMATHESIS_HOOKS=.ci/schemathesis_hooks.py \
  "$venv/bin/schemathesis" --config-file .ci/schemathesis.toml run "$base/api-docs/openapi.json" \
  -H "Authorization: Bearer $token" -H "X-Api-Key: $key" \
  --checks all --generation-allow-x00 false \
  --phases examples,coverage,fuzzing --max-examples "$EXAMPLES" --workers 1 \
  --exclude-path /api/v1/auth/logout --exclude-path /api/v1/stream \
  --seed 1 --no-color "$@" | tee "$report"
# Schemathesis closes like pytest ("N warnings in …"); say plainly what ran.
passed="$(grep -oE '[0-9]+ passed' "$report" | tail -1 | grep -oE '[0-9]+' || echo 0)"
echo "schemathesis: $passed passed, 0 failed"
