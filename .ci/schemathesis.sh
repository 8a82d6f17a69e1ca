#!/usr/bin/env bash
# Schema-driven API testing: starts wacrm on its own embedded PostgreSQL, signs in
# as an admin (bearer token and an admin API key, both valid), and runs
# Schemathesis over the whole served OpenAPI document with a bounded number of
# examples per operation. Any server error, undocumented status, response that
# does not match its schema, or mishandled credential fails the run.
#
# `.ci/schemathesis-baseline.json` lists the failures accepted, to be worked down.
# What no schema can say:
# - false positives of the coverage phase (PATCH bodies, and contacts): a body that
#   leaves out an optional property is reported as "Missing required property";
#   and of negative generation (leads): a body whose nullable ids are sent as
#   `null`, which the schema allows, reported as violating their `format: uuid`;
# - state: references to records that must exist (422 `invalid_reference`: a
#   conversation, staff member, status, source, group or campaign number);
#   where that is an operation's only 422, `.ci/schemathesis.toml` declares it
#   (quick-reply render, auto-lead settings) instead of the baseline, and the
#   503 `provider_not_configured` of sending by phone (this run configures no
#   provider connection);
# - phone numbers: the handler accepts spaces, dashes, brackets, `00` and (with
#   `WACRM_DEFAULT_COUNTRY`) national numbers, and refuses unassigned country codes
#   (`000000`) and `""`: libphonenumber's rules, which no pattern can mirror exactly.
#   The document marks every phone it reads `format: phone`, and
#   `.ci/schemathesis_hooks.py` generates that format from valid phones (the
#   baseline keeps no entry for a phone alone);
# - rules across fields or values: audience filters whose `created_before` is not
#   after `created_after`, a webhook replay whose `until` is not after `since`,
#   consent settings whose stop and start words
#   read the same once case and accents are folded (`ä`, `à`), credentials a
#   patched connection's provider does not use (a PATCH cannot know the stored one),
#   notification field paths (`send_to.path`, a condition's or reminder's `field`)
#   that must start at a root of their event type (`invoice.…` for invoices),
#   template components (a BODY with its text, buttons per type);
# - webhook endpoint URLs: the schema says `http(s)://`; the host must also parse
#   and, unless `allow_private_targets`, be a public address;
# - a contact import's file, which must be a CSV whose header row has the columns
#   its mapping names (422 `invalid_file`, `unknown_column`, `phone_column_missing`),
#   and multipart parts whose headers the multipart parser cannot read (400);
# - an empty string where a campaign schedule takes an optional date-time (the
#   coverage phase sends `""` for `format: date-time`).
# What a schema could say and the document does not declare yet (next to fix):
# `conversation_id` or `phone` (bots' dry run) as one-of; bots' required fields
# and shapes (`name`, `trigger`, `response`); a message's `template` and
# `interactive` shapes (plain `object` today: `{}` is refused with 400); template
# `name` and `language` patterns; `snooze_until` only with `snoozed` (the future
# time it must be stays a rule no schema can say); a new connection's
# credentials per provider. Message bodies: the coverage phase sends `""` for
# `reply_to` and `number_id` although both are `format: uuid` (it does so with the
# body's `allOf` flattened into a `oneOf` too), answered 400.
# Any new failure, on any operation, fails the run. Refresh the baseline with
# `bash .ci/schemathesis.sh --baseline-update` and read the diff. `--baseline-prune`
# drops every entry the run did not see, and some are seen only in some runs (they
# depend on the records earlier operations left): drop only those whose cause is fixed.
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
  --seed 1 --no-color --baseline .ci/schemathesis-baseline.json "$@" | tee "$report"
# Schemathesis closes like pytest ("N warnings in …"); say plainly what ran.
passed="$(grep -oE '[0-9]+ passed' "$report" | tail -1 | grep -oE '[0-9]+' || echo 0)"
echo "schemathesis: $passed passed, 0 failed"
