"""Schemathesis hooks for .ci/schemathesis.sh.

`format: phone` (a phone the API parses by libphonenumber's rules, which no
pattern can mirror) is generated from phones those rules accept, in the
spellings the API documents: E.164, spaces, dashes, brackets, `00`.

`filter_failure` drops two kinds of failure, each checked against the
response or the document rather than taken on trust:

- a schema-valid request refused for what no schema can say (`BY_DESIGN`):
  a record that must exist, a time that must be in the future, a rule across
  fields, a URL's host, a CSV file. Each entry names the operation, the status,
  the problem `code` and the fields at fault; a refusal of any other kind (a
  field error a schema could state, another code, another field) still fails.
- a "schema-violating" request that the document itself accepts: Schemathesis
  4.32's coverage phase reports some bodies as negative that its own schema
  validation passes (an optional property left out reported as a "missing
  required property", a nullable id sent as `null`). The body is validated
  against the operation's schema, formats asserted; only a body it accepts is
  dropped, so a handler accepting a truly invalid body still fails.
"""

import re

import jsonschema_rs
import schemathesis
from hypothesis import strategies as st

PHONES = [
    "+254712345678",
    "+254 712 345 678",
    "+254-733-000-111",
    "00254712000001",
    "+55 (11) 98765-4321",
    "+44 20 7946 0958",
    "+44 7700 900123",
    "+91 62686 62275",
    "+919355421616",
    "+1 555 010 0999",
]

schemathesis.openapi.format("phone", st.sampled_from(PHONES))

# The field of a 422 `invalid_reference` (or of a `validation_failed` naming a
# record), for ids the fuzzer makes up: state no schema can say.
ANY_REFERENCE = r"[a-z_.]+"
# Whatever fields the problem names (its code alone says what is wrong).
ANY = "*"
# A date range whose end is not after its start (audience filters); and an
# audience of groups must name 1 to 100 (the document cannot bound an enum's
# unnamed variant: utoipa takes no `min_items` there).
DATE_RANGE = r"(filter\.|audience\.([a-z_]+\.)?)?created_before|audience\.whatsapp_groups"

# A bot's fields checked across its parts (see the bots' entries below).
BOT_RULES = (
    r"trigger\.((values|keywords|synonyms|phrases)\[\d+\]|groups\[\d+\]\[\d+\])"
    r"|response\.((items|nodes|edges)(\[.*)?|start|type|(header\.)?(link|media_id)|filename|caption"
    r"|buttons\[\d+\]\.(id|title)|contacts\[\d+\]\.name\.formatted_name"
    r"|body_param_names|header_param_name|button_params\[\d+\]\.index)"
)

NOTIFICATION_MAPPING = [
    (422, "validation_failed", r"send_to\.path|condition\..+|reminder\..+|delay_minutes|parameters(\..+)?"),
    (422, "invalid_reference", r"number_id"),
    (422, "template_not_found", ANY),
    (422, "template_not_approved", ANY),
]

# Sending: the number, the template and the customer are state (a template
# approved on the number's connection, parameters as many as it has, the
# 24-hour window, consent, the blocklist, what the provider supports); the
# content's own rules across fields: a Flow names exactly one of `flow_id` and
# `flow_name` and, to navigate, its first screen; a list's sections are titled
# when there are several and hold 1 to 10 rows in all with unique ids; reply
# buttons are unique; a template's parameter names match its parameters; a
# media header names exactly one of `link` and `media_id`.
SENDING = [
    (422, "validation_failed", r"number_id|reply_to|flow_id|flow_name|flow_action_payload(\.data)?"
        r"|header\.(link|media_id)"
        r"|sections(\[\d+\]\.(title|rows\[\d+\]\.id))?|buttons\[\d+\]\.(id|title)"
        r"|body_param_names|header_param_name|button_params\[\d+\]\.index|contacts\[\d+\]\.name\.formatted_name"),
    (422, "template_not_found", ANY),
    (422, "template_not_approved", ANY),
    (422, "template_parameters_mismatch", ANY),
    (422, "session_expired", ANY),
    (422, "recipient_blocked", ANY),
    (422, "recipient_opted_out", ANY),
    (422, "unsupported_by_provider", ANY),
    (422, "invalid_reference", ANY_REFERENCE),
]

CAMPAIGN = [
    (422, "invalid_reference", ANY_REFERENCE),
    (422, "validation_failed", DATE_RANGE + r"|parameters(\..+)?"),
    (422, "template_not_found", ANY),
    (422, "template_not_approved", ANY),
]

# operation -> [(status, problem code, regex every error field must match)].
# A `None` field pattern: the problem carries no field errors.
BY_DESIGN = {
    # Records that must exist (ids are made up).
    "POST /api/v1/leads": [(422, "invalid_reference", ANY_REFERENCE)],
    "PATCH /api/v1/leads/{id}": [(422, "invalid_reference", ANY_REFERENCE)],
    "POST /api/v1/tickets": [(422, "invalid_reference", ANY_REFERENCE)],
    "PATCH /api/v1/tickets/{id}": [(422, "invalid_reference", ANY_REFERENCE)],
    "POST /api/v1/audiences/preview": [
        (422, "invalid_reference", ANY_REFERENCE),
        (422, "validation_failed", DATE_RANGE),
    ],
    # Campaigns: the number and its template are state; a parameter's field
    # paths must start at a root of the audience's records and fit the template.
    "POST /api/v1/campaigns": CAMPAIGN,
    "PUT /api/v1/campaigns/{id}": CAMPAIGN,
    "POST /api/v1/messages": SENDING,
    "POST /api/v1/conversations/{id}/messages": SENDING,
    "POST /api/v1/numbers": [(422, "validation_failed", r"connection_id")],
    # Manual templates: the connection must exist; components need one BODY
    # with its text and placeholders numbered from {{1}} without a gap (rules
    # across the list's items).
    "POST /api/v1/templates": [
        (422, "validation_failed", r"connection_id|components(\[\d+\]\.(type|text|buttons))?"),
    ],
    "PATCH /api/v1/templates/{id}": [
        (422, "validation_failed", r"components(\[\d+\]\.(type|text|buttons))?"),
    ],
    # Rules across fields or values.
    "GET /api/v1/whatsapp-contacts": [(400, "invalid_query", r"created_before")],
    "GET /api/v1/whatsapp-contacts/counts": [(400, "invalid_query", r"created_before")],
    "GET /api/v1/whatsapp-contacts/export": [(400, "invalid_query", r"created_before")],
    "POST /api/v1/segments": [(422, "validation_failed", DATE_RANGE), (422, "invalid_reference", ANY_REFERENCE)],
    "PUT /api/v1/segments/{id}": [(422, "validation_failed", DATE_RANGE), (422, "invalid_reference", ANY_REFERENCE)],
    "POST /api/v1/whatsapp-groups/{id}/members": [
        (422, "validation_failed", DATE_RANGE),
        (422, "invalid_reference", ANY_REFERENCE),
    ],
    "POST /api/v1/whatsapp-groups/{id}/members/remove": [
        (422, "validation_failed", DATE_RANGE),
        (422, "invalid_reference", ANY_REFERENCE),
    ],
    "POST /api/v1/webhook-endpoints/{id}/replay": [(422, "validation_failed", r"until")],
    # Stop and start words that read the same once case and accents are folded.
    "PUT /api/v1/settings/consent": [(422, "validation_failed", r"(start|stop)_words")],
    # Notification field paths must start at a root of their event type.
    # (and a reminder sets its own time, so no delay with it), parameters fit
    # the template; the number and an APPROVED template on its connection must exist.
    "POST /api/v1/notification-mappings": NOTIFICATION_MAPPING,
    "PUT /api/v1/notification-mappings/{id}": NOTIFICATION_MAPPING,
    # Times that must be in the future (the fuzzer's dates are mostly past).
    "POST /api/v1/api-keys": [(422, "validation_failed", r"expires_at")],
    "POST /api/v1/conversations/{id}/status": [(422, "validation_failed", r"snooze_until")],
    # URLs: the host must parse and be a public address.
    "POST /api/v1/connections": [
        (422, "validation_failed", r"base_url"),
        (422, "address_not_allowed", r"base_url"),
    ],
    "PATCH /api/v1/connections/{id}": [
        (422, "validation_failed", r"base_url|credentials\.[a-z_]+"),  # also: credentials the stored provider does not use
        (422, "address_not_allowed", r"base_url"),
        (422, "credentials_required", r"credentials\.[a-z_]+"),
    ],
    "PUT /api/v1/settings/ai": [
        (422, "validation_failed", r"base_url"),
        (422, "address_not_allowed", r"base_url"),
        (422, "credentials_required", r"api_key"),
    ],
    "POST /api/v1/webhook-endpoints": [
        (422, "validation_failed", r"url"),
        (422, "address_not_allowed", r"url"),
    ],
    "PATCH /api/v1/webhook-endpoints/{id}": [
        (422, "validation_failed", r"url"),
        (422, "address_not_allowed", r"url"),
    ],
    # A connection's provider decides whether its URL has a token to rotate.
    "POST /api/v1/connections/{id}/rotate-webhook-token": [(422, "webhook_token_not_used", None)],
    # Bots: rules across a bot's parts — words that are only punctuation, a
    # menu's levels (titles unique, not numbers or navigation words, depth),
    # a flow's graph (start, edges, branches), media (and a template's media
    # header) given by exactly one of link and media_id, unique buttons, a
    # human request answered by a dialogue.
    "POST /api/v1/bots": [(422, "validation_failed", BOT_RULES)],
    "PATCH /api/v1/bots/{id}": [(422, "validation_failed", BOT_RULES)],
    # Contact import: the file must be a CSV whose header names the mapped columns.
    "POST /api/v1/whatsapp-contacts/import": [
        (422, "invalid_file", ANY),
        (422, "unknown_column", ANY),
        (422, "phone_column_missing", ANY),
        # and its default country must be one libphonenumber knows.
        (422, "validation_failed", r"options\.(mapping.*|default_country)|file"),
        # Parts whose headers the multipart parser cannot read.
        (400, "invalid_body", None),
    ],
}


def _problem(response):
    try:
        return response.json()
    except Exception:
        return None


def _by_design(label, response):
    problem = _problem(response)
    if not isinstance(problem, dict):
        return False
    fields = [error.get("field", "") for error in problem.get("errors") or []]
    for status, code, field_pattern in BY_DESIGN.get(label, []):
        if response.status_code != status or problem.get("code") != code:
            continue
        if field_pattern == ANY:
            return True
        if field_pattern is None:
            if not fields:
                return True
        elif fields and all(re.fullmatch(field_pattern, field) for field in fields):
            return True
    return False


_validators = {}


def _document_accepts_body(case):
    operation = case.operation
    raw = operation.schema.raw_schema
    key = operation.label
    if key not in _validators:
        body = (
            raw.get("paths", {})
            .get(operation.path, {})
            .get(operation.method.lower(), {})
            .get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema")
        )
        _validators[key] = (
            None
            if body is None
            else jsonschema_rs.validator_for(
                {**body, "components": raw.get("components", {})}, validate_formats=True
            )
        )
    validator = _validators[key]
    if validator is None or case.body is None:
        return False
    # Only a body mutation: a negative query, path or header is left alone.
    if case.query or any(
        key.lower() not in ("authorization", "x-api-key", "content-type", "user-agent")
        for key in (case.headers or {})
    ):
        return False
    try:
        return validator.is_valid(case.body)
    except Exception:
        return False


@schemathesis.hook
def filter_failure(context, failure, case, response):
    kind = type(failure).__name__
    if kind == "RejectedPositiveData" and _by_design(case.operation.label, response):
        return False
    if kind == "AcceptedNegativeData" and _document_accepts_body(case):
        return False
    return True
