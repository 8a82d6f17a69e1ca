//! WhatsApp contacts: the people marketing sends to, one per phone, with
//! labels, template variables and the consent of their phone.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::audiences::{ConsentFilter, WhatsappContactFilter};
use wacrm_domain::whatsapp_contacts::{self as rules, OptInStatus};
use wacrm_domain::{Country, NormalizedPhone, Permission};
use wacrm_persistence::whatsapp_contacts::{
    self, ListedWhatsappContact, NewWhatsappContact, WhatsappContactChanges,
};
use wacrm_persistence::{AsyncPgConnection, StoreError};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::phone_consent::ConsentSummary;
use crate::state::AppState;
use crate::validation::{Checks, filter_errors};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9e", "name": "Ana Souza", "phone": "+55 11 98765-4321",
    "phone_normalized": "5511987654321", "language": "pt_BR", "time_zone": "America/Sao_Paulo",
    "labels": ["vip"], "custom_fields": {"first_name": "Ana"},
    "opt_in": {"status": "opted_in", "source": "website form", "at": "2026-11-01T10:00:00Z"},
    "consent": {"state": "subscribed", "reason": null, "source": "staff", "changed_at": "2026-11-01T10:00:00Z"},
    "blocked": false, "created_at": "2026-11-01T10:00:00Z", "updated_at": "2026-11-01T10:00:00Z"
}))]
pub struct WhatsappContactResponse {
    pub id: Uuid,
    pub name: Option<String>,
    /// As given.
    pub phone: String,
    /// E.164 digits without `+`; one contact per phone.
    pub phone_normalized: String,
    /// WhatsApp template language code (`en`, `pt_BR`).
    pub language: Option<String>,
    /// IANA time zone (derived from the phone's country when not given).
    pub time_zone: String,
    pub labels: Vec<String>,
    /// Template variables.
    pub custom_fields: BTreeMap<String, String>,
    pub opt_in: OptIn,
    /// The phone's marketing consent (read-only; see `/api/v1/consent`).
    pub consent: ConsentSummary,
    /// The blocklist names the phone: it gets nothing at all.
    pub blocked: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether the customer agreed to hear from the business, as it recorded.
#[derive(Serialize, ToSchema)]
pub struct OptIn {
    pub status: OptInStatus,
    /// Where the opt-in was collected (a form, a call).
    pub source: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

impl From<ListedWhatsappContact> for WhatsappContactResponse {
    fn from(row: ListedWhatsappContact) -> Self {
        let contact = row.contact;
        Self {
            id: contact.id,
            name: contact.name,
            phone: contact.phone,
            phone_normalized: contact.phone_normalized,
            language: contact.language,
            time_zone: contact.time_zone,
            labels: contact.labels,
            custom_fields: string_fields(contact.custom_fields),
            opt_in: OptIn {
                status: OptInStatus::parse(&contact.opt_in_status).unwrap_or_default(),
                source: contact.opt_in_source,
                at: contact.opt_in_at,
            },
            consent: ConsentSummary::from(&row.consent),
            blocked: row.consent.blocked,
            created_at: contact.created_at,
            updated_at: contact.updated_at,
        }
    }
}

/// The stored object as strings (only strings are ever written).
pub fn string_fields(value: serde_json::Value) -> BTreeMap<String, String> {
    match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// A label: 1 to 64 characters, not only spaces, without `;` (which separates
/// labels in a CSV cell); surrounding spaces are trimmed (schema only).
#[derive(ToSchema)]
#[schema(max_length = 64, pattern = r"^[^;]*[^;\s][^;]*$")]
#[allow(dead_code)]
pub struct LabelText(String);

/// Custom fields: at most 50 keys of `[a-z0-9_]{1,64}`, string values of at
/// most 1000 characters (16 kB in all, which no schema states).
fn custom_fields_schema() -> utoipa::openapi::Object {
    crate::openapi::hand_written_object(serde_json::json!({
        "type": "object",
        "description": "Template variables: keys of `[a-z0-9_]{1,64}`, at most 50, string values of at most 1000 characters.",
        "propertyNames": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"},
        "additionalProperties": {"type": "string", "maxLength": 1000},
        "maxProperties": 50,
    }))
}

fn nullable_custom_fields_schema() -> utoipa::openapi::Object {
    let mut schema = custom_fields_schema();
    schema.schema_type = utoipa::openapi::schema::SchemaType::from_iter([
        utoipa::openapi::schema::Type::Object,
        utoipa::openapi::schema::Type::Null,
    ]);
    schema
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptInRequest {
    pub status: OptInStatus,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub source: Option<String>,
    /// When it was given; defaults to now for `opted_in`.
    pub at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Ana Souza", "phone": "+55 11 98765-4321", "language": "pt_BR", "labels": ["vip"], "custom_fields": {"first_name": "Ana"}, "opt_in": {"status": "opted_in", "source": "website form"}}))]
pub struct CreateWhatsappContactRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// Any spelling; normalised with the default country when it has no `+`.
    #[schema(min_length = 1, max_length = 40)]
    pub phone: String,
    #[schema(pattern = r"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")]
    pub language: Option<String>,
    /// IANA name; derived from the phone's country when absent.
    #[schema(value_type = Option<crate::openapi::TimeZone>, example = "Africa/Nairobi")]
    pub time_zone: Option<String>,
    #[serde(default)]
    #[schema(max_items = 50, value_type = Vec<LabelText>)]
    pub labels: Vec<String>,
    /// String values under keys of `[a-z0-9_]{1,64}` (template variables), at most 50.
    #[serde(default)]
    #[schema(schema_with = custom_fields_schema)]
    pub custom_fields: BTreeMap<String, String>,
    pub opt_in: Option<OptInRequest>,
}

/// Only the fields given change; `null` clears an optional field (and a
/// `null` time zone derives it from the phone again).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWhatsappContactRequest {
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable, min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<Option<String>>,
    #[schema(min_length = 1, max_length = 40)]
    pub phone: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable, pattern = r"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")]
    pub language: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<crate::openapi::TimeZone>, nullable)]
    pub time_zone: Option<Option<String>>,
    /// Replaces the labels.
    #[schema(max_items = 50, value_type = Option<Vec<LabelText>>)]
    pub labels: Option<Vec<String>>,
    /// Replaces the custom fields.
    #[schema(schema_with = nullable_custom_fields_schema)]
    pub custom_fields: Option<BTreeMap<String, String>>,
    pub opt_in: Option<OptInRequest>,
}

/// The list filters (also those of the counts and the CSV export).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WhatsappContactQuery {
    /// Contacts carrying this label (exact).
    #[param(max_length = 64)]
    pub label: Option<String>,
    /// Members of this group.
    pub group_id: Option<Uuid>,
    /// `subscribed`, `opted_out`, `unknown` (never said) or `blocked`.
    pub consent: Option<ConsentFilter>,
    /// Case-insensitive substring of the name or the phone digits.
    #[param(max_length = 200)]
    pub q: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// The phone wrote to us in the last N days.
    #[param(minimum = 1, maximum = 3650)]
    pub last_inbound_within_days: Option<u16>,
}

impl WhatsappContactQuery {
    /// The domain filter; blank texts count as absent, bad ranges are 400.
    pub fn filter(self) -> ApiResult<WhatsappContactFilter> {
        let filter = WhatsappContactFilter {
            label: self.label.filter(|label| !label.trim().is_empty()),
            group_id: self.group_id,
            q: self.q.filter(|q| !q.trim().is_empty()),
            created_after: self.created_after,
            created_before: self.created_before,
            last_inbound_within_days: self.last_inbound_within_days,
            consent: self.consent,
        };
        filter.validate().map_err(|problems| {
            ApiError::bad_request("invalid_query", "the filter has invalid values")
                .with_errors(filter_errors("", problems))
        })?;
        Ok(filter)
    }
}

/// How many contacts match, and how they split by consent.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"total": 1200, "subscribed": 800, "opted_out": 50, "unknown": 350, "blocked": 3}))]
pub struct WhatsappContactCounts {
    /// Matching every filter given.
    pub total: i64,
    /// The rest: matching every filter but `consent`, by state (`blocked`
    /// counts blocklisted phones whatever their consent).
    pub subscribed: i64,
    pub opted_out: i64,
    pub unknown: i64,
    pub blocked: i64,
}

/// List WhatsApp contacts, newest first.
#[utoipa::path(tag = "whatsapp-contacts", params(PageParams, WhatsappContactQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<WhatsappContactResponse>),
))]
#[get("/whatsapp-contacts")]
pub async fn list_whatsapp_contacts(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<WhatsappContactQuery>,
) -> ApiResult<web::Json<PageResponse<WhatsappContactResponse>>> {
    principal.require(Permission::WHATSAPP_CONTACTS_VIEW)?;
    let filter = query.into_inner().filter()?;
    let mut conn = state.conn().await?;
    let page = whatsapp_contacts::list(&mut conn, &filter, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Count WhatsApp contacts matching the list filters, by consent state.
#[utoipa::path(tag = "whatsapp-contacts", params(WhatsappContactQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = WhatsappContactCounts),
))]
#[get("/whatsapp-contacts/counts")]
pub async fn count_whatsapp_contacts(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<WhatsappContactQuery>,
) -> ApiResult<web::Json<WhatsappContactCounts>> {
    principal.require(Permission::WHATSAPP_CONTACTS_VIEW)?;
    let filter = query.into_inner().filter()?;
    let mut conn = state.conn().await?;
    let counts = whatsapp_contacts::count(&mut conn, &filter).await?;
    Ok(web::Json(WhatsappContactCounts {
        total: counts.total,
        subscribed: counts.subscribed,
        opted_out: counts.opted_out,
        unknown: counts.unknown,
        blocked: counts.blocked,
    }))
}

/// Create a WhatsApp contact.
#[utoipa::path(tag = "whatsapp-contacts", request_body = CreateWhatsappContactRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = WhatsappContactResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`whatsapp_contact_exists`: another contact has this phone (in any spelling); `existing_id` names it"),
))]
#[post("/whatsapp-contacts")]
pub async fn create_whatsapp_contact(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateWhatsappContactRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CONTACTS_CREATE)?;
    let new = body
        .into_inner()
        .into_new(state.default_country, principal.staff_id())?;
    let phone = new.phone_normalized.clone();
    let mut conn = state.conn().await?;
    let contact = match whatsapp_contacts::insert(&mut conn, new).await {
        Ok(contact) => contact,
        Err(error) => return Err(failure(&mut conn, error, Some(&phone)).await),
    };
    Ok(HttpResponse::Created().json(WhatsappContactResponse::from(contact)))
}

/// One WhatsApp contact.
#[utoipa::path(tag = "whatsapp-contacts", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = WhatsappContactResponse),
))]
#[get("/whatsapp-contacts/{id}")]
pub async fn get_whatsapp_contact(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<WhatsappContactResponse>> {
    principal.require(Permission::WHATSAPP_CONTACTS_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(
        whatsapp_contacts::find(&mut conn, *id).await?.into(),
    ))
}

/// Change a WhatsApp contact.
#[utoipa::path(tag = "whatsapp-contacts", params(("id" = Uuid, Path)), request_body = UpdateWhatsappContactRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = WhatsappContactResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`whatsapp_contact_exists`: another contact has this phone; `existing_id` names it"),
))]
#[patch("/whatsapp-contacts/{id}")]
pub async fn update_whatsapp_contact(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateWhatsappContactRequest>,
) -> ApiResult<web::Json<WhatsappContactResponse>> {
    principal.require(Permission::WHATSAPP_CONTACTS_EDIT)?;
    let mut conn = state.conn().await?;
    // The current phone decides a time zone reset to `null`.
    let current = whatsapp_contacts::find(&mut conn, *id).await?;
    let changes = body
        .into_inner()
        .into_changes(&current.contact.phone_normalized, state.default_country)?;
    let phone = changes.phone_normalized.clone();
    match whatsapp_contacts::update(&mut conn, *id, changes).await {
        Ok(contact) => Ok(web::Json(contact.into())),
        Err(error) => Err(failure(&mut conn, error, phone.as_deref()).await),
    }
}

/// Delete a WhatsApp contact (and its group memberships).
#[utoipa::path(tag = "whatsapp-contacts", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
))]
#[delete("/whatsapp-contacts/{id}")]
pub async fn delete_whatsapp_contact(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CONTACTS_DELETE)?;
    let mut conn = state.conn().await?;
    whatsapp_contacts::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A storage failure as the client should see it: a second contact with the
/// same phone is 409 `whatsapp_contact_exists` naming the first one.
async fn failure(conn: &mut AsyncPgConnection, error: StoreError, phone: Option<&str>) -> ApiError {
    let (StoreError::Conflict(constraint), Some(phone)) = (&error, phone) else {
        return error.into();
    };
    if constraint != whatsapp_contacts::PHONE_CONSTRAINT {
        return error.into();
    }
    let detail = "a WhatsApp contact with this phone already exists";
    match whatsapp_contacts::find_by_phone(conn, phone).await {
        Ok(Some(existing)) => ApiError::conflict_with("whatsapp_contact_exists", detail, existing),
        // Deleted in between: the caller may simply try again.
        Ok(None) => ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "whatsapp_contact_exists",
            detail,
        ),
        Err(error) => error.into(),
    }
}

fn parse_phone(
    checks: &mut Checks,
    value: &str,
    country: Option<Country>,
) -> Option<NormalizedPhone> {
    match NormalizedPhone::parse(value, country) {
        Ok(phone) => Some(phone),
        Err(error) => {
            checks.fail("phone", error.to_string());
            None
        }
    }
}

fn zone(checks: &mut Checks, given: Option<&str>, phone: Option<&NormalizedPhone>) -> String {
    let Some(phone) = phone else {
        return String::new();
    };
    match rules::time_zone(given, phone) {
        // A number of no single country (e.g. a global service) lives in UTC
        // until someone says otherwise.
        Ok(zone) => zone.map_or_else(|| "UTC".to_owned(), |zone| zone.name().to_owned()),
        Err(message) => {
            checks.fail("time_zone", message);
            String::new()
        }
    }
}

fn checked<T>(checks: &mut Checks, field: &str, result: Result<T, String>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(message) => {
            checks.fail(field, message);
            None
        }
    }
}

/// Opt-in columns: status, source, time (now when opting in without one).
fn opt_in(
    checks: &mut Checks,
    request: OptInRequest,
) -> (String, Option<String>, Option<DateTime<Utc>>) {
    let source = request
        .source
        .as_deref()
        .map(|source| checks.text("opt_in.source", source, 200));
    let at = match (request.status, request.at) {
        (OptInStatus::OptedIn, None) => Some(Utc::now()),
        (_, at) => at,
    };
    (request.status.as_str().to_owned(), source, at)
}

fn fields_json(fields: BTreeMap<String, String>) -> serde_json::Value {
    serde_json::Value::Object(
        fields
            .into_iter()
            .map(|(key, value)| (key, serde_json::Value::String(value)))
            .collect(),
    )
}

impl CreateWhatsappContactRequest {
    fn into_new(
        self,
        country: Option<Country>,
        created_by: Option<Uuid>,
    ) -> ApiResult<NewWhatsappContact> {
        let mut checks = Checks::default();
        let name = self
            .name
            .as_deref()
            .map(|name| checks.text("name", name, 200));
        let phone = parse_phone(&mut checks, &self.phone, country);
        let time_zone = zone(&mut checks, self.time_zone.as_deref(), phone.as_ref());
        let language = self
            .language
            .as_deref()
            .and_then(|language| checked(&mut checks, "language", rules::language(language)));
        let labels = checked(&mut checks, "labels", rules::labels(&self.labels));
        checked(
            &mut checks,
            "custom_fields",
            rules::custom_fields(&self.custom_fields),
        );
        let (opt_in_status, opt_in_source, opt_in_at) = match self.opt_in {
            Some(request) => opt_in(&mut checks, request),
            None => (OptInStatus::Unknown.as_str().to_owned(), None, None),
        };
        checks.finish()?;
        Ok(NewWhatsappContact {
            id: Uuid::now_v7(),
            name,
            phone: self.phone.trim().to_owned(),
            phone_normalized: phone.map(NormalizedPhone::into_string).unwrap_or_default(),
            language,
            time_zone,
            labels: labels.unwrap_or_default(),
            custom_fields: fields_json(self.custom_fields),
            opt_in_status,
            opt_in_source,
            opt_in_at,
            created_by,
        })
    }
}

impl UpdateWhatsappContactRequest {
    fn into_changes(
        self,
        current_phone: &str,
        country: Option<Country>,
    ) -> ApiResult<WhatsappContactChanges> {
        let mut checks = Checks::default();
        let mut changes = WhatsappContactChanges {
            name: self
                .name
                .map(|name| name.as_deref().map(|name| checks.text("name", name, 200))),
            ..Default::default()
        };
        let phone = match self.phone.as_deref() {
            Some(given) => {
                let parsed = parse_phone(&mut checks, given, country);
                changes.phone = Some(given.trim().to_owned());
                changes.phone_normalized = parsed.as_ref().map(|p| p.as_str().to_owned());
                parsed
            }
            None => NormalizedPhone::parse(current_phone, None).ok(),
        };
        if let Some(given) = self.time_zone {
            changes.time_zone = Some(zone(&mut checks, given.as_deref(), phone.as_ref()));
        }
        if let Some(language) = self.language {
            changes.language =
                Some(language.as_deref().and_then(|language| {
                    checked(&mut checks, "language", rules::language(language))
                }));
        }
        if let Some(labels) = self.labels {
            changes.labels = checked(&mut checks, "labels", rules::labels(&labels));
        }
        if let Some(fields) = self.custom_fields {
            checked(&mut checks, "custom_fields", rules::custom_fields(&fields));
            changes.custom_fields = Some(fields_json(fields));
        }
        if let Some(request) = self.opt_in {
            let (status, source, at) = opt_in(&mut checks, request);
            changes.opt_in_status = Some(status);
            changes.opt_in_source = Some(source);
            changes.opt_in_at = Some(at);
        }
        checks.finish()?;
        Ok(changes)
    }
}
