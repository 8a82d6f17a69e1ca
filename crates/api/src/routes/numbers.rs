//! Business numbers: seen with `whatsapp_numbers:view`, changed by admins.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::campaigns::MESSAGING_TIERS;
use wacrm_domain::{NormalizedPhone, Permission};
use wacrm_persistence::{StoreError, connections, numbers};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::Checks;

/// Meta's default throughput per number.
const DEFAULT_MESSAGES_PER_SECOND: i32 = 80;

#[derive(Serialize, ToSchema)]
pub struct NumberResponse {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub phone: String,
    pub phone_normalized: String,
    /// The provider's id for the number (Meta's `phone_number_id`).
    pub provider_number_id: Option<String>,
    pub is_default: bool,
    /// Sending pace limit for this number.
    pub messages_per_second: i32,
    /// Its messaging-limit tier: distinct customers campaigns may reach from
    /// it per moving 24 hours (`null`: unlimited).
    pub daily_recipient_limit: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<numbers::Number> for NumberResponse {
    fn from(row: numbers::Number) -> Self {
        Self {
            id: row.id,
            connection_id: row.connection_id,
            phone: row.phone,
            phone_normalized: row.phone_normalized,
            provider_number_id: row.provider_number_id,
            is_default: row.is_default,
            messages_per_second: row.messages_per_second,
            daily_recipient_limit: row.daily_recipient_limit,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNumberRequest {
    pub connection_id: Uuid,
    pub phone: String,
    pub provider_number_id: Option<String>,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default, deserialize_with = "crate::validation::whole_number")]
    #[schema(minimum = 1, maximum = 1000)]
    pub messages_per_second: Option<i32>,
    /// Meta's messaging-limit tier for the number (250, 1000, 2000, 10000 or
    /// 100000 distinct customers per moving 24 hours); absent: unlimited.
    #[serde(default, deserialize_with = "crate::validation::whole_number")]
    #[schema(schema_with = tier)]
    pub daily_recipient_limit: Option<i32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNumberRequest {
    pub phone: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable)]
    pub provider_number_id: Option<Option<String>>,
    pub is_default: Option<bool>,
    #[serde(default, deserialize_with = "crate::validation::whole_number")]
    #[schema(minimum = 1, maximum = 1000)]
    pub messages_per_second: Option<i32>,
    /// The messaging-limit tier (250, 1000, 2000, 10000 or 100000); `null`:
    /// unlimited.
    #[serde(default, deserialize_with = "crate::validation::whole_number_or_null")]
    #[schema(schema_with = tier_or_null)]
    pub daily_recipient_limit: Option<Option<i32>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NumberQuery {
    pub connection_id: Option<Uuid>,
}

fn check_rate(checks: &mut Checks, rate: Option<i32>) {
    if rate.is_some_and(|rate| !(1..=1000).contains(&rate)) {
        checks.fail("messages_per_second", "must be between 1 and 1000");
    }
}

/// Meta's messaging-limit tiers as the document declares them (with `null`
/// where it clears the limit).
fn tier_schema(nullable: bool) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut values: Vec<serde_json::Value> = MESSAGING_TIERS
        .iter()
        .map(|tier| serde_json::json!(tier))
        .collect();
    let mut types = vec![Type::Integer];
    if nullable {
        values.push(serde_json::Value::Null);
        types.push(Type::Null);
    }
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter(types))
        .enum_values(Some(values))
        .build()
}

fn tier() -> utoipa::openapi::Object {
    tier_schema(false)
}

fn tier_or_null() -> utoipa::openapi::Object {
    tier_schema(true)
}

fn check_tier(checks: &mut Checks, tier: Option<i32>) {
    if tier.is_some_and(|tier| !MESSAGING_TIERS.contains(&tier)) {
        checks.fail(
            "daily_recipient_limit",
            "must be a messaging-limit tier: 250, 1000, 2000, 10000 or 100000 (null: unlimited)",
        );
    }
}

fn normalized(checks: &mut Checks, phone: &str, state: &AppState) -> String {
    match NormalizedPhone::parse(phone, state.default_country) {
        Ok(digits) => digits.into_string(),
        Err(error) => {
            checks.fail("phone", error.to_string());
            String::new()
        }
    }
}

#[utoipa::path(tag = "numbers", params(PageParams, NumberQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<NumberResponse>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/numbers")]
pub async fn list_numbers(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<NumberQuery>,
) -> ApiResult<web::Json<PageResponse<NumberResponse>>> {
    principal.require(Permission::WHATSAPP_NUMBERS_VIEW)?;
    let mut conn = state.conn().await?;
    let page = numbers::list(&mut conn, query.connection_id, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Add a number to a connection. Making it the default takes the flag from the others.
#[utoipa::path(tag = "numbers", request_body = CreateNumberRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = NumberResponse),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/numbers")]
pub async fn create_number(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateNumberRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let phone_normalized = normalized(&mut checks, &body.phone, &state);
    check_rate(&mut checks, body.messages_per_second);
    check_tier(&mut checks, body.daily_recipient_limit);
    checks.finish()?;
    let mut conn = state.conn().await?;
    connections::find(&mut conn, &state.cipher, body.connection_id)
        .await
        .map_err(|error| match error {
            StoreError::NotFound => ApiError::validation(vec![crate::error::FieldError {
                field: "connection_id".into(),
                message: "names no existing connection".into(),
            }]),
            other => other.into(),
        })?;
    let new = numbers::NewNumber {
        id: Uuid::now_v7(),
        connection_id: body.connection_id,
        phone: body.phone.trim().to_owned(),
        phone_normalized,
        provider_number_id: body.provider_number_id,
        is_default: body.is_default,
        messages_per_second: body
            .messages_per_second
            .unwrap_or(DEFAULT_MESSAGES_PER_SECOND),
        daily_recipient_limit: body.daily_recipient_limit,
    };
    let created = conn
        .transaction::<_, ApiError, _>(async |conn| Ok(numbers::insert(conn, new).await?))
        .await?;
    Ok(HttpResponse::Created().json(NumberResponse::from(created)))
}

#[utoipa::path(tag = "numbers", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = NumberResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/numbers/{id}")]
pub async fn get_number(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<NumberResponse>> {
    principal.require(Permission::WHATSAPP_NUMBERS_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(numbers::find(&mut conn, *id).await?.into()))
}

#[utoipa::path(tag = "numbers", params(("id" = Uuid, Path)), request_body = UpdateNumberRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = NumberResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/numbers/{id}")]
pub async fn update_number(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateNumberRequest>,
) -> ApiResult<web::Json<NumberResponse>> {
    principal.require(Permission::ADMIN)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let mut changes = numbers::NumberChanges {
        provider_number_id: body.provider_number_id,
        is_default: body.is_default,
        messages_per_second: body.messages_per_second,
        daily_recipient_limit: body.daily_recipient_limit,
        ..Default::default()
    };
    if let Some(phone) = &body.phone {
        changes.phone_normalized = Some(normalized(&mut checks, phone, &state));
        changes.phone = Some(phone.trim().to_owned());
    }
    check_rate(&mut checks, body.messages_per_second);
    check_tier(&mut checks, body.daily_recipient_limit.flatten());
    checks.finish()?;
    let id = *id;
    let mut conn = state.conn().await?;
    let updated = conn
        .transaction::<_, ApiError, _>(async |conn| Ok(numbers::update(conn, id, changes).await?))
        .await?;
    Ok(web::Json(updated.into()))
}

#[utoipa::path(tag = "numbers", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/numbers/{id}")]
pub async fn delete_number(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    numbers::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
