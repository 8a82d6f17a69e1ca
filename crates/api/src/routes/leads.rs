//! Leads and the notes written on them.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::crm_events::EventType;
use wacrm_persistence::{AsyncPgConnection, events, leads};

use crate::auth::{Principal, Visibility};
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::{Checks, phone_filter};
use crate::whatsapp_links::link_whatsapp_contacts;
use wacrm_worker::crm_events;

#[derive(Serialize, ToSchema)]
pub struct LeadResponse {
    pub id: Uuid,
    pub name: String,
    /// As given.
    pub phone: Option<String>,
    /// E.164 digits without `+`: what WhatsApp senders are matched on.
    pub phone_normalized: Option<String>,
    pub email: Option<String>,
    pub status_id: Option<Uuid>,
    pub source_id: Option<Uuid>,
    pub assigned_staff_id: Option<Uuid>,
    /// The WhatsApp contact with the same normalised phone, if any.
    pub whatsapp_contact_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<leads::Lead> for LeadResponse {
    fn from(row: leads::Lead) -> Self {
        Self {
            id: row.id,
            name: row.name,
            phone: row.phone,
            phone_normalized: row.phone_normalized,
            email: row.email,
            status_id: row.status_id,
            source_id: row.source_id,
            assigned_staff_id: row.assigned_staff_id,
            whatsapp_contact_id: None,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLeadRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    pub phone: Option<String>,
    #[schema(pattern = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", max_length = 254)]
    pub email: Option<String>,
    pub status_id: Option<Uuid>,
    pub source_id: Option<Uuid>,
    pub assigned_staff_id: Option<Uuid>,
}

/// Only the fields given change; `null` clears an optional field.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLeadRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable, pattern = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", max_length = 254)]
    pub email: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub status_id: Option<Option<Uuid>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub source_id: Option<Option<Uuid>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub assigned_staff_id: Option<Option<Uuid>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadQuery {
    pub status_id: Option<Uuid>,
    pub source_id: Option<Uuid>,
    pub assigned_staff_id: Option<Uuid>,
    /// Matches the normalised phone, however it is written.
    pub phone: Option<String>,
    /// Case-insensitive search in name, email and phone.
    pub q: Option<String>,
}

/// List leads, newest first.
#[utoipa::path(tag = "leads", params(PageParams, LeadQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<LeadResponse>),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/leads")]
pub async fn list_leads(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<LeadQuery>,
) -> ApiResult<web::Json<PageResponse<LeadResponse>>> {
    principal.require(Permission::LEADS_VIEW)?;
    let query = query.into_inner();
    let phone_normalized = phone_filter(query.phone.as_deref(), state.default_country)?;
    let filter = leads::LeadFilter {
        status_id: query.status_id,
        source_id: query.source_id,
        assigned_staff_id: query.assigned_staff_id,
        phone_normalized,
        search: query.q.filter(|q| !q.trim().is_empty()),
    };
    let mut conn = state.conn().await?;
    let page = leads::list(&mut conn, &filter, page.request()?).await?;
    let mut response = PageResponse::from_page(page, LeadResponse::from);
    link_whatsapp_contacts(&mut conn, &mut response.items).await?;
    Ok(web::Json(response))
}

/// Create a lead.
#[utoipa::path(tag = "leads", request_body = CreateLeadRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = LeadResponse),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed` or `invalid_reference`"),
))]
#[post("/leads")]
pub async fn create_lead(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateLeadRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::LEADS_CREATE)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let name = checks.text("name", &body.name, 200);
    let email = body
        .email
        .as_deref()
        .map(|email| checks.email("email", email));
    let (phone, phone_normalized) =
        checks.phone("phone", body.phone.as_deref(), state.default_country);
    checks.finish()?;
    let new = leads::NewLead {
        id: Uuid::now_v7(),
        name,
        phone,
        phone_normalized,
        email,
        status_id: body.status_id,
        source_id: body.source_id,
        assigned_staff_id: body.assigned_staff_id,
    };
    let now = state.clock.now();
    let mut conn = state.conn().await?;
    // The lead, its `lead_created` CRM event and its announcement to
    // integrators (`lead.created`) commit together; the notifications are a
    // job's work and can neither fail nor delay this request.
    let lead = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let lead = leads::insert(conn, new).await?;
            let data = crm_events::lead_data(&lead);
            crm_events::emit(conn, EventType::LeadCreated, lead.id, data, now).await?;
            events::publish(
                conn,
                &json!({"type": "lead.created", "lead_id": lead.id, "source": "api"}),
            )
            .await?;
            Ok(lead)
        })
        .await?;
    state.jobs.jobs_queued();
    Ok(HttpResponse::Created().json(linked(&mut conn, lead).await?))
}

/// One lead.
#[utoipa::path(tag = "leads", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = LeadResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/leads/{id}")]
pub async fn get_lead(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<LeadResponse>> {
    principal.require(Permission::LEADS_VIEW)?;
    let mut conn = state.conn().await?;
    let lead = leads::find(&mut conn, *id).await?;
    Ok(web::Json(linked(&mut conn, lead).await?))
}

/// Change a lead.
#[utoipa::path(tag = "leads", params(("id" = Uuid, Path)), request_body = UpdateLeadRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = LeadResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/leads/{id}")]
pub async fn update_lead(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateLeadRequest>,
) -> ApiResult<web::Json<LeadResponse>> {
    principal.require(Permission::LEADS_EDIT)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let mut changes = leads::LeadChanges {
        name: body
            .name
            .as_deref()
            .map(|name| checks.text("name", name, 200)),
        email: body
            .email
            .map(|email| email.as_deref().map(|email| checks.email("email", email))),
        status_id: body.status_id,
        source_id: body.source_id,
        assigned_staff_id: body.assigned_staff_id,
        ..Default::default()
    };
    if let Some(phone) = body.phone {
        let (given, digits) = checks.phone("phone", phone.as_deref(), state.default_country);
        changes.phone = Some(given);
        changes.phone_normalized = Some(digits);
    }
    checks.finish()?;
    let mut conn = state.conn().await?;
    let lead = leads::update(&mut conn, *id, changes).await?;
    Ok(web::Json(linked(&mut conn, lead).await?))
}

/// The response for one lead, linked to its WhatsApp contact.
async fn linked(conn: &mut AsyncPgConnection, lead: leads::Lead) -> ApiResult<LeadResponse> {
    let mut response = LeadResponse::from(lead);
    link_whatsapp_contacts(conn, std::slice::from_mut(&mut response)).await?;
    Ok(response)
}

/// Delete a lead and its notes.
#[utoipa::path(tag = "leads", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/leads/{id}")]
pub async fn delete_lead(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::LEADS_DELETE)?;
    let mut conn = state.conn().await?;
    leads::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct LeadNoteResponse {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub body: String,
    /// The staff member who wrote it; `null` for notes written by the system.
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<leads::LeadNote> for LeadNoteResponse {
    fn from(row: leads::LeadNote) -> Self {
        Self {
            id: row.id,
            lead_id: row.lead_id,
            body: row.body,
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLeadNoteRequest {
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub body: String,
}

/// A lead's notes, newest first.
#[utoipa::path(tag = "leads", params(("id" = Uuid, Path), PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<LeadNoteResponse>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/leads/{id}/notes")]
pub async fn list_lead_notes(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<LeadNoteResponse>>> {
    principal.require(Permission::LEADS_VIEW)?;
    let request = page.request()?;
    let mut conn = state.conn().await?;
    leads::find(&mut conn, *id).await?;
    let visible_to = Visibility::of(&mut conn, &principal).await?.restricted_to();
    let page = leads::list_notes(&mut conn, *id, visible_to, request).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Add a note to a lead.
#[utoipa::path(tag = "leads", params(("id" = Uuid, Path)), request_body = CreateLeadNoteRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = LeadNoteResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/leads/{id}/notes")]
pub async fn create_lead_note(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<CreateLeadNoteRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::LEADS_EDIT)?;
    let mut checks = Checks::default();
    let text = checks.text("body", &body.body, 10_000);
    checks.finish()?;
    let mut conn = state.conn().await?;
    let note = leads::add_note(
        &mut conn,
        leads::NewLeadNote {
            id: Uuid::now_v7(),
            lead_id: *id,
            body: text,
            created_by: principal.staff_id(),
            conversation_id: None,
        },
    )
    .await
    .map_err(|error| match error {
        wacrm_persistence::StoreError::Reference(_) => ApiError::not_found("lead"),
        other => other.into(),
    })?;
    Ok(HttpResponse::Created().json(LeadNoteResponse::from(note)))
}
