//! Support tickets, opened by staff by hand: on their own or from a
//! conversation, which links the ticket to the lead or contact writing in.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::crm_events::EventType;
use wacrm_domain::ticket::{TicketPriority, TicketStatus};
use wacrm_domain::{Permission, RelType};
use wacrm_persistence::{
    AsyncPgConnection, StoreError, contacts, conversations, leads, staff, tickets,
};

use crate::auth::{Principal, Visibility, visible_conversation};
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::Checks;
use wacrm_worker::crm_events;

const STATUSES: &str = "open, pending, resolved or closed";
const PRIORITIES: &str = "low, normal, high or urgent";

#[derive(Serialize, ToSchema)]
pub struct TicketResponse {
    pub id: Uuid,
    pub subject: String,
    pub description: Option<String>,
    /// `open`, `pending`, `resolved` or `closed`.
    pub status: String,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: String,
    /// The staff member working on it.
    pub assigned_to: Option<Uuid>,
    /// The conversation it was opened from.
    pub conversation_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    /// The staff member who opened it; `null` for API keys.
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<tickets::Ticket> for TicketResponse {
    fn from(row: tickets::Ticket) -> Self {
        Self {
            id: row.id,
            subject: row.subject,
            description: row.description,
            status: row.status,
            priority: row.priority,
            assigned_to: row.assigned_to,
            conversation_id: row.conversation_id,
            lead_id: row.lead_id,
            contact_id: row.contact_id,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub subject: String,
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub description: Option<String>,
    /// `open` (default), `pending`, `resolved` or `closed`.
    #[schema(pattern = "^(open|pending|resolved|closed)$")]
    pub status: Option<String>,
    /// `low`, `normal` (default), `high` or `urgent`.
    #[schema(pattern = "^(low|normal|high|urgent)$")]
    pub priority: Option<String>,
    /// An active staff member.
    pub assigned_to: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
}

/// Only the fields given change; `null` clears an optional field.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicketRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub subject: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable, min_length = 1, max_length = 10000, pattern = r"\S")]
    pub description: Option<Option<String>>,
    /// `open`, `pending`, `resolved` or `closed`.
    #[schema(pattern = "^(open|pending|resolved|closed)$")]
    pub status: Option<String>,
    /// `low`, `normal`, `high` or `urgent`.
    #[schema(pattern = "^(low|normal|high|urgent)$")]
    pub priority: Option<String>,
    /// An active staff member, or `null` to unassign.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub assigned_to: Option<Option<Uuid>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub lead_id: Option<Option<Uuid>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub contact_id: Option<Option<Uuid>>,
}

/// A ticket opened from a conversation; the links come from the conversation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationTicketRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub subject: String,
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub description: Option<String>,
    /// `low`, `normal` (default), `high` or `urgent`.
    #[schema(pattern = "^(low|normal|high|urgent)$")]
    pub priority: Option<String>,
    /// An active staff member.
    pub assigned_to: Option<Uuid>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// `open`, `pending`, `resolved` or `closed`.
    #[param(pattern = "^(open|pending|resolved|closed)$")]
    pub status: Option<String>,
    /// `low`, `normal`, `high` or `urgent`.
    #[param(pattern = "^(low|normal|high|urgent)$")]
    pub priority: Option<String>,
    pub assigned_to: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    /// Case-insensitive search in the subject.
    pub q: Option<String>,
}

/// List tickets, newest first.
#[utoipa::path(tag = "tickets", params(PageParams, TicketQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<TicketResponse>),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/tickets")]
pub async fn list_tickets(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<TicketQuery>,
) -> ApiResult<web::Json<PageResponse<TicketResponse>>> {
    principal.require(Permission::TICKETS_VIEW)?;
    let query = query.into_inner();
    if let Some(status) = &query.status {
        TicketStatus::parse(status).ok_or_else(|| {
            ApiError::bad_request("invalid_query", format!("status must be {STATUSES}"))
        })?;
    }
    if let Some(priority) = &query.priority {
        TicketPriority::parse(priority).ok_or_else(|| {
            ApiError::bad_request("invalid_query", format!("priority must be {PRIORITIES}"))
        })?;
    }
    let filter = tickets::TicketFilter {
        status: query.status,
        priority: query.priority,
        assigned_to: query.assigned_to,
        conversation_id: query.conversation_id,
        lead_id: query.lead_id,
        contact_id: query.contact_id,
        search: query.q.filter(|q| !q.trim().is_empty()),
        visible_to: None,
    };
    let mut conn = state.conn().await?;
    let filter = tickets::TicketFilter {
        visible_to: Visibility::of(&mut conn, &principal).await?.restricted_to(),
        ..filter
    };
    let page = tickets::list(&mut conn, &filter, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Open a ticket.
#[utoipa::path(tag = "tickets", request_body = CreateTicketRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = TicketResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed` or `invalid_reference`"),
))]
#[post("/tickets")]
pub async fn create_ticket(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateTicketRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::TICKETS_CREATE)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let subject = checks.text("subject", &body.subject, 200);
    let description = body
        .description
        .as_deref()
        .map(|text| checks.text("description", text, 10_000));
    let status = body
        .status
        .as_deref()
        .map_or(TicketStatus::default(), |status| {
            ticket_status(&mut checks, status)
        });
    let priority = body
        .priority
        .as_deref()
        .map_or(TicketPriority::default(), |priority| {
            ticket_priority(&mut checks, priority)
        });
    checks.finish()?;
    let mut conn = state.conn().await?;
    if let Some(assignee) = body.assigned_to {
        ensure_assignable(&mut conn, assignee).await?;
    }
    if let Some(conversation) = body.conversation_id {
        visible_conversation(&mut conn, &principal, conversation)
            .await
            .map_err(|error| match error.code() {
                "not_found" => ApiError::invalid_reference("conversation_id"),
                _ => error,
            })?;
    }
    let ticket = insert_ticket(
        &state,
        &mut conn,
        tickets::NewTicket {
            id: Uuid::now_v7(),
            subject,
            description,
            status: status.as_str().to_owned(),
            priority: priority.as_str().to_owned(),
            assigned_to: body.assigned_to,
            conversation_id: body.conversation_id,
            lead_id: body.lead_id,
            contact_id: body.contact_id,
            created_by: principal.staff_id(),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(TicketResponse::from(ticket)))
}

/// Open a ticket from a conversation.
///
/// The ticket is linked to the conversation and to the lead or contact the
/// customer is; it starts `open`.
#[utoipa::path(tag = "tickets", params(("id" = Uuid, Path, description = "The conversation")), request_body = CreateConversationTicketRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = TicketResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed` or `invalid_reference`"),
))]
#[post("/conversations/{id}/tickets")]
pub async fn create_conversation_ticket(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<CreateConversationTicketRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::TICKETS_CREATE)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let subject = checks.text("subject", &body.subject, 200);
    let description = body
        .description
        .as_deref()
        .map(|text| checks.text("description", text, 10_000));
    let priority = body
        .priority
        .as_deref()
        .map_or(TicketPriority::default(), |priority| {
            ticket_priority(&mut checks, priority)
        });
    checks.finish()?;
    let mut conn = state.conn().await?;
    let conversation = visible_conversation(&mut conn, &principal, *id).await?;
    if let Some(assignee) = body.assigned_to {
        ensure_assignable(&mut conn, assignee).await?;
    }
    let (lead_id, contact_id) = customer_records(&mut conn, &conversation).await?;
    let ticket = insert_ticket(
        &state,
        &mut conn,
        tickets::NewTicket {
            id: Uuid::now_v7(),
            subject,
            description,
            status: TicketStatus::default().as_str().to_owned(),
            priority: priority.as_str().to_owned(),
            assigned_to: body.assigned_to,
            conversation_id: Some(conversation.id),
            lead_id,
            contact_id,
            created_by: principal.staff_id(),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(TicketResponse::from(ticket)))
}

/// One ticket.
#[utoipa::path(tag = "tickets", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = TicketResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/tickets/{id}")]
pub async fn get_ticket(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<TicketResponse>> {
    principal.require(Permission::TICKETS_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(
        visible_ticket(&mut conn, &principal, *id).await?.into(),
    ))
}

/// Change a ticket: its text, status, priority, assignee or links.
#[utoipa::path(tag = "tickets", params(("id" = Uuid, Path)), request_body = UpdateTicketRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = TicketResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed` or `invalid_reference`"),
))]
#[patch("/tickets/{id}")]
pub async fn update_ticket(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateTicketRequest>,
) -> ApiResult<web::Json<TicketResponse>> {
    principal.require(Permission::TICKETS_EDIT)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let changes = tickets::TicketChanges {
        subject: body
            .subject
            .as_deref()
            .map(|subject| checks.text("subject", subject, 200)),
        description: body.description.map(|description| {
            description
                .as_deref()
                .map(|text| checks.text("description", text, 10_000))
        }),
        status: body
            .status
            .as_deref()
            .map(|status| ticket_status(&mut checks, status).as_str().to_owned()),
        priority: body
            .priority
            .as_deref()
            .map(|priority| ticket_priority(&mut checks, priority).as_str().to_owned()),
        assigned_to: body.assigned_to,
        lead_id: body.lead_id,
        contact_id: body.contact_id,
        ..Default::default()
    };
    checks.finish()?;
    let mut conn = state.conn().await?;
    // An unknown ticket is 404 even when the assignee is wrong too.
    visible_ticket(&mut conn, &principal, *id).await?;
    if let Some(Some(assignee)) = body.assigned_to {
        ensure_assignable(&mut conn, assignee).await?;
    }
    Ok(web::Json(
        tickets::update(&mut conn, *id, changes).await?.into(),
    ))
}

/// Delete a ticket.
#[utoipa::path(tag = "tickets", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/tickets/{id}")]
pub async fn delete_ticket(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::TICKETS_DELETE)?;
    let mut conn = state.conn().await?;
    visible_ticket(&mut conn, &principal, *id).await?;
    tickets::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn ticket_status(checks: &mut Checks, name: &str) -> TicketStatus {
    TicketStatus::parse(name).unwrap_or_else(|| {
        checks.fail("status", format!("must be {STATUSES}"));
        TicketStatus::default()
    })
}

fn ticket_priority(checks: &mut Checks, name: &str) -> TicketPriority {
    TicketPriority::parse(name).unwrap_or_else(|| {
        checks.fail("priority", format!("must be {PRIORITIES}"));
        TicketPriority::default()
    })
}

/// The ticket, unless it was opened from a conversation the caller may not
/// see (404 then, as if absent: the ticket carries the conversation's content).
async fn visible_ticket(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<tickets::Ticket> {
    let ticket = tickets::find(conn, id).await?;
    if let Some(conversation) = ticket.conversation_id {
        let assignee = conversations::find(conn, conversation).await?.assigned_to;
        if !Visibility::of(conn, principal).await?.allows(assignee) {
            return Err(ApiError::not_found("ticket"));
        }
    }
    Ok(ticket)
}

/// Tickets go to people who can work on them: the foreign key alone would
/// accept a deactivated account.
async fn ensure_assignable(conn: &mut AsyncPgConnection, staff_id: Uuid) -> ApiResult<()> {
    match staff::find(conn, staff_id).await {
        Ok(member) if member.is_active => Ok(()),
        Ok(_) | Err(StoreError::NotFound) => Err(ApiError::invalid_reference("assigned_to")),
        Err(other) => Err(other.into()),
    }
}

/// The lead or contact the conversation's customer is, as (lead_id, contact_id).
/// A record deleted since the conversation was matched links nothing.
async fn customer_records(
    conn: &mut AsyncPgConnection,
    conversation: &conversations::Conversation,
) -> ApiResult<(Option<Uuid>, Option<Uuid>)> {
    let Some(rel_id) = conversation.rel_id else {
        return Ok((None, None));
    };
    let found = match RelType::parse(&conversation.rel_type) {
        Some(RelType::Lead) => leads::find(conn, rel_id)
            .await
            .map(|lead| (Some(lead.id), None)),
        Some(RelType::Contact) => contacts::find(conn, rel_id)
            .await
            .map(|contact| (None, Some(contact.id))),
        Some(RelType::Staff | RelType::General) | None => return Ok((None, None)),
    };
    match found {
        Ok(links) => Ok(links),
        Err(StoreError::NotFound) => Ok((None, None)),
        Err(other) => Err(other.into()),
    }
}

/// Stores the ticket and its `ticket_created` event in one transaction (the
/// event's notifications are a job's work), then wakes the workers.
async fn insert_ticket(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    new: tickets::NewTicket,
) -> ApiResult<tickets::Ticket> {
    use diesel_async::AsyncConnection as _;
    let now = state.clock.now();
    let ticket = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let ticket = tickets::insert(conn, new).await?;
            let data = crm_events::ticket_data(&ticket);
            crm_events::emit(conn, EventType::TicketCreated, ticket.id, data, now).await?;
            Ok(ticket)
        })
        .await?;
    state.jobs.jobs_queued();
    Ok(ticket)
}
