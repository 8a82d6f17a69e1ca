//! Contacts: people at customer companies.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::crm_events::EventType;
use wacrm_persistence::{AsyncPgConnection, contacts};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::{Checks, phone_filter};
use crate::whatsapp_links::link_whatsapp_contacts;
use wacrm_worker::crm_events;

#[derive(Serialize, ToSchema)]
pub struct ContactResponse {
    pub id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    /// E.164 digits without `+`: what WhatsApp senders are matched on.
    pub phone_normalized: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    /// The WhatsApp contact with the same normalised phone, if any.
    pub whatsapp_contact_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<contacts::Contact> for ContactResponse {
    fn from(row: contacts::Contact) -> Self {
        Self {
            id: row.id,
            name: row.name,
            phone: row.phone,
            phone_normalized: row.phone_normalized,
            email: row.email,
            company: row.company,
            whatsapp_contact_id: None,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContactRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    pub phone: Option<String>,
    #[schema(pattern = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", max_length = 254)]
    pub email: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub company: Option<String>,
}

/// Only the fields given change; `null` clears an optional field.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContactRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable, pattern = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", max_length = 254)]
    pub email: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable, min_length = 1, max_length = 200, pattern = r"\S")]
    pub company: Option<Option<String>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Case-insensitive substring of the company.
    pub company: Option<String>,
    /// Matches the normalised phone, however it is written.
    pub phone: Option<String>,
    /// Case-insensitive search in name, email, phone and company.
    pub q: Option<String>,
}

/// List contacts, newest first.
#[utoipa::path(tag = "contacts", params(PageParams, ContactQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<ContactResponse>),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/contacts")]
pub async fn list_contacts(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<ContactQuery>,
) -> ApiResult<web::Json<PageResponse<ContactResponse>>> {
    principal.require(Permission::CONTACTS_VIEW)?;
    let query = query.into_inner();
    let phone_normalized = phone_filter(query.phone.as_deref(), state.default_country)?;
    let filter = contacts::ContactFilter {
        company: query.company.filter(|c| !c.trim().is_empty()),
        phone_normalized,
        search: query.q.filter(|q| !q.trim().is_empty()),
    };
    let mut conn = state.conn().await?;
    let page = contacts::list(&mut conn, &filter, page.request()?).await?;
    let mut response = PageResponse::from_page(page, ContactResponse::from);
    link_whatsapp_contacts(&mut conn, &mut response.items).await?;
    Ok(web::Json(response))
}

/// Create a contact.
#[utoipa::path(tag = "contacts", request_body = CreateContactRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = ContactResponse),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/contacts")]
pub async fn create_contact(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateContactRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::CONTACTS_CREATE)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let name = checks.text("name", &body.name, 200);
    let email = body
        .email
        .as_deref()
        .map(|email| checks.email("email", email));
    let company = body
        .company
        .as_deref()
        .map(|company| checks.text("company", company, 200));
    let (phone, phone_normalized) =
        checks.phone("phone", body.phone.as_deref(), state.default_country);
    checks.finish()?;
    let new = contacts::NewContact {
        id: Uuid::now_v7(),
        name,
        phone,
        phone_normalized,
        email,
        company,
    };
    let now = state.clock.now();
    let mut conn = state.conn().await?;
    // The `contact_created` event commits with the contact (see create_lead).
    let contact = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let contact = contacts::insert(conn, new).await?;
            let data = crm_events::contact_data(&contact);
            crm_events::emit(conn, EventType::ContactCreated, contact.id, data, now).await?;
            Ok(contact)
        })
        .await?;
    state.jobs.jobs_queued();
    Ok(HttpResponse::Created().json(linked(&mut conn, contact).await?))
}

/// One contact.
#[utoipa::path(tag = "contacts", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ContactResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/contacts/{id}")]
pub async fn get_contact(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ContactResponse>> {
    principal.require(Permission::CONTACTS_VIEW)?;
    let mut conn = state.conn().await?;
    let contact = contacts::find(&mut conn, *id).await?;
    Ok(web::Json(linked(&mut conn, contact).await?))
}

/// Change a contact.
#[utoipa::path(tag = "contacts", params(("id" = Uuid, Path)), request_body = UpdateContactRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ContactResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/contacts/{id}")]
pub async fn update_contact(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateContactRequest>,
) -> ApiResult<web::Json<ContactResponse>> {
    principal.require(Permission::CONTACTS_EDIT)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let mut changes = contacts::ContactChanges {
        name: body
            .name
            .as_deref()
            .map(|name| checks.text("name", name, 200)),
        email: body
            .email
            .map(|email| email.as_deref().map(|email| checks.email("email", email))),
        company: body.company.map(|company| {
            company
                .as_deref()
                .map(|company| checks.text("company", company, 200))
        }),
        ..Default::default()
    };
    if let Some(phone) = body.phone {
        let (given, digits) = checks.phone("phone", phone.as_deref(), state.default_country);
        changes.phone = Some(given);
        changes.phone_normalized = Some(digits);
    }
    checks.finish()?;
    let mut conn = state.conn().await?;
    let contact = contacts::update(&mut conn, *id, changes).await?;
    Ok(web::Json(linked(&mut conn, contact).await?))
}

/// The response for one contact, linked to its WhatsApp contact.
async fn linked(
    conn: &mut AsyncPgConnection,
    contact: contacts::Contact,
) -> ApiResult<ContactResponse> {
    let mut response = ContactResponse::from(contact);
    link_whatsapp_contacts(conn, std::slice::from_mut(&mut response)).await?;
    Ok(response)
}

/// Delete a contact.
#[utoipa::path(tag = "contacts", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/contacts/{id}")]
pub async fn delete_contact(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::CONTACTS_DELETE)?;
    let mut conn = state.conn().await?;
    contacts::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
