//! Events in from the host CRM (`POST /api/v1/events`): invoices, payments,
//! tasks, projects, proposals, form submissions and the rest of seed 001's
//! hooks. The event is stored with its processing job and answered 202; the
//! notifications it causes are the job's work. The event `id` makes the call
//! idempotent: the same id answers the first result and never acts twice.

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::crm_events::EventType;
use wacrm_domain::crm_events::payloads::{self, CrmEventBody};
use wacrm_persistence::crm_events::{CrmEvent, SOURCE_API};
use wacrm_worker::crm_events;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::state::AppState;

/// The longest event id a caller may give.
const MAX_ID_CHARS: usize = 200;

/// A CRM event: the caller's unique `id`, when it happened, and its `type`
/// with the `data` of that type (extra fields are kept and usable in mappings).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"id": "inv-1042-created", "type": "after_invoice_added", "occurred_at": "2026-11-30T09:00:00Z",
    "data": {"number": "INV-1042", "total": 1250.5, "currency": "KES", "due_date": "2026-12-10",
             "link": "https://crm.example.com/invoices/1042", "contact_id": "0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9e"}}))]
pub struct CrmEventRequest {
    /// Unique per event in the caller's system: a repeat is answered with the
    /// first result and sends nothing.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: CrmEventBody,
}

/// The envelope read before the type is known (other top-level fields are
/// ignored, as the document allows them).
#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    occurred_at: DateTime<Utc>,
    data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct CrmEventResponse {
    /// The caller's id.
    pub id: String,
    /// wacrm's id of the stored event (`event_id` in the notification log).
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// `pending` until the notifications are worked out, then `processed`.
    #[schema(example = "pending")]
    pub status: String,
    /// True when this id was received before (nothing new was done).
    pub duplicate: bool,
}

impl CrmEventResponse {
    fn of(event: CrmEvent, kind: EventType, duplicate: bool) -> Self {
        Self {
            id: event.key,
            event_id: event.id,
            kind,
            occurred_at: event.occurred_at,
            received_at: event.received_at,
            status: if event.processed_at.is_some() {
                "processed"
            } else {
                "pending"
            }
            .to_owned(),
            duplicate,
        }
    }
}

/// Report a CRM event.
///
/// Stored durably with the job that matches it against the notification
/// mappings of its type, then answered 202. The same `id` again answers 200
/// with the first result and sends nothing; the same `id` with another type,
/// time or data is 409 `event_id_reused`.
#[utoipa::path(tag = "notifications", request_body = CrmEventRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = CrmEventResponse, description = "stored; its notifications follow"),
    (status = 200, body = CrmEventResponse, description = "this id was received before: the first result"),
    (status = 400, body = Problem, content_type = "application/problem+json", description = "`malformed_json` or `invalid_body`"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`event_id_reused`: this id came with another type, time or data"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`: the id, type or data"),
))]
#[post("/events")]
pub async fn create_crm_event(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::CRM_EVENTS_CREATE)?;
    let envelope: Envelope = serde_json::from_value(body.into_inner())
        .map_err(|error| ApiError::bad_request("invalid_body", error.to_string()))?;
    let (kind, id) = check(&envelope)?;
    let now = state.clock.now();
    // PostgreSQL keeps microseconds: a repeat compares equal to what was stored.
    let occurred_at = DateTime::from_timestamp_micros(envelope.occurred_at.timestamp_micros())
        .unwrap_or(envelope.occurred_at);
    let data = envelope.data;
    let mut conn = state.conn().await?;
    let recorded = conn
        .transaction::<_, ApiError, _>(async |conn| {
            Ok(
                crm_events::record(conn, SOURCE_API, &id, kind, occurred_at, data.clone(), now)
                    .await?,
            )
        })
        .await?;
    if recorded.new {
        state.jobs.jobs_queued();
        return Ok(HttpResponse::Accepted().json(CrmEventResponse::of(
            recorded.event,
            kind,
            false,
        )));
    }
    let first = &recorded.event;
    if first.kind != kind.as_str() || first.occurred_at != occurred_at || first.data != data {
        return Err(ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "event_id_reused",
            "an event with this id was received with another type, time or data; give each event its own id",
        ));
    }
    Ok(HttpResponse::Ok().json(CrmEventResponse::of(recorded.event, kind, true)))
}

/// The type, and the id trimmed; 422 naming each bad field.
fn check(envelope: &Envelope) -> ApiResult<(EventType, String)> {
    let mut errors = Vec::new();
    let id = envelope.id.trim().to_owned();
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        errors.push(FieldError {
            field: "id".into(),
            message: format!("must be 1 to {MAX_ID_CHARS} characters"),
        });
    }
    let kind = EventType::parse(&envelope.kind);
    match kind {
        None => errors.push(FieldError {
            field: "type".into(),
            message: format!(
                "is not an event type; known: {}",
                EventType::ALL.map(EventType::as_str).join(", ")
            ),
        }),
        Some(kind) => {
            if let Err(problem) = payloads::check(kind, &envelope.data) {
                errors.push(FieldError {
                    field: "data".into(),
                    message: problem,
                });
            }
        }
    }
    match kind {
        Some(kind) if errors.is_empty() => Ok((kind, id)),
        _ => Err(ApiError::validation(errors)),
    }
}
