//! Provider connections (admin only): credentials are write-only, and each
//! connection answers with the webhook URL to register with its provider.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::connection::Credentials;
use wacrm_domain::{Permission, Provider};
use wacrm_persistence::connections::{self, Connection, NewConnection};
use wacrm_persistence::provider_errors::{self, ProviderErrorRow};

use super::provider_errors::ProviderErrorResponse;
use crate::auth::{Principal, tokens};
use crate::base_url;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::Checks;

#[derive(Serialize, ToSchema)]
pub struct ConnectionResponse {
    pub id: Uuid,
    /// `meta`, `lipachat`, `whats91` or `tata`.
    pub provider: String,
    pub name: String,
    /// The provider API host in use (`null`: the provider's real host).
    pub base_url: Option<String>,
    /// The exact URL to register with the provider, including any secret token.
    pub webhook_url: String,
    /// After a token rotation: until when the previous `webhook_url` is still accepted.
    pub previous_webhook_url_valid_until: Option<DateTime<Utc>>,
    /// Meta's WhatsApp Business Account id (not a secret).
    pub waba_id: Option<String>,
    pub has_access_token: bool,
    pub has_app_secret: bool,
    pub has_verify_token: bool,
    pub has_api_key: bool,
    pub has_signing_secret: bool,
    pub has_verification_token: bool,
    /// False after the provider rejected our credentials (e.g. an expired token).
    pub is_healthy: bool,
    pub health_error: Option<String>,
    /// The newest system error the provider reported outside any message (Meta's
    /// webhook `errors`); all of them are at `/api/v1/admin/provider-errors`.
    pub last_provider_error: Option<ProviderErrorResponse>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ConnectionResponse {
    fn with_last_error(mut self, latest: &[ProviderErrorRow]) -> Self {
        self.last_provider_error = latest
            .iter()
            .find(|row| row.connection_id == self.id)
            .cloned()
            .map(Into::into);
        self
    }

    fn new(connection: Connection, public_url: &str) -> Self {
        let credentials = &connection.credentials;
        let has = |field: &str| credentials.get(field).is_some();
        Self {
            webhook_url: webhook_url(public_url, &connection),
            previous_webhook_url_valid_until: credentials
                .previous_webhook_token_until
                .filter(|until| *until > Utc::now()),
            waba_id: credentials.waba_id.clone(),
            has_access_token: has("access_token"),
            has_app_secret: has("app_secret"),
            has_verify_token: has("verify_token"),
            has_api_key: has("api_key"),
            has_signing_secret: has("signing_secret"),
            has_verification_token: has("verification_token"),
            id: connection.id,
            provider: connection.provider.as_str().to_owned(),
            name: connection.name,
            base_url: connection.base_url,
            is_healthy: connection.is_healthy,
            health_error: connection.health_error,
            last_provider_error: None,
            created_at: connection.created_at,
            updated_at: connection.updated_at,
        }
    }
}

/// `/webhooks/{provider}/{id}`, plus the URL secret for providers that do not sign.
pub fn webhook_url(public_url: &str, connection: &Connection) -> String {
    let base = format!(
        "{}/webhooks/{}/{}",
        public_url.trim_end_matches('/'),
        connection.provider,
        connection.id
    );
    match connection.credentials.webhook_token.as_deref() {
        Some(token) if !connection.provider.signs_webhooks() => format!("{base}/{token}"),
        _ => base,
    }
}

/// Write-only credentials; which fields apply depends on the provider.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRequest {
    /// meta
    pub access_token: Option<String>,
    /// meta
    pub app_secret: Option<String>,
    /// meta: the token Meta echoes when verifying the webhook
    pub verify_token: Option<String>,
    /// meta
    pub waba_id: Option<String>,
    /// lipachat, whats91, tata
    pub api_key: Option<String>,
    /// whats91: signs `X-Whats91-Signature`
    pub signing_secret: Option<String>,
    /// whats91 (optional): expected `X-CRM-Webhook-Token`
    pub verification_token: Option<String>,
}

impl CredentialsRequest {
    fn into_credentials(self, provider: Provider, checks: &mut Checks) -> Credentials {
        let credentials = Credentials {
            access_token: self.access_token,
            app_secret: self.app_secret,
            verify_token: self.verify_token,
            waba_id: self.waba_id,
            api_key: self.api_key,
            signing_secret: self.signing_secret,
            verification_token: self.verification_token,
            ..Credentials::default()
        };
        for field in [
            "access_token",
            "app_secret",
            "verify_token",
            "waba_id",
            "api_key",
            "signing_secret",
            "verification_token",
        ] {
            if credentials.get(field).is_some() && !Credentials::accepted(provider).contains(&field)
            {
                checks.fail(
                    &format!("credentials.{field}"),
                    format!("{provider} does not use it"),
                );
            }
        }
        credentials
    }
}

/// A new connection: its provider, a name, the credentials that provider needs,
/// and an optional API host. The schema is written by hand, one variant per
/// provider, from the same tables the handler checks (`Credentials::required`
/// and `Credentials::accepted`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    pub provider: String,
    pub name: String,
    pub credentials: CredentialsRequest,
    pub base_url: Option<String>,
}

/// Every credential field, as `CredentialsRequest` spells it, with what it is.
const CREDENTIAL_FIELDS: [(&str, &str); 7] = [
    ("access_token", "Meta's system-user access token"),
    ("app_secret", "Meta's app secret, which signs its webhooks"),
    (
        "verify_token",
        "The token Meta echoes when verifying the webhook",
    ),
    ("waba_id", "Meta's WhatsApp Business Account id"),
    ("api_key", "The provider's API key"),
    ("signing_secret", "Signs `X-Whats91-Signature`"),
    (
        "verification_token",
        "Expected in `X-CRM-Webhook-Token` (optional)",
    ),
];

/// `base_url`: an http(s) URL; its host must also be a public address (422).
const BASE_URL_PATTERN: &str = r"^ *[Hh][Tt][Tt][Pp][Ss]?://[^/\s]";

impl utoipa::PartialSchema for CreateConnectionRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let variants: Vec<serde_json::Value> = Provider::ALL
            .into_iter()
            .map(|provider| {
                let required = Credentials::required(provider);
                let accepted = Credentials::accepted(provider);
                let mut fields = serde_json::Map::new();
                for (field, about) in CREDENTIAL_FIELDS {
                    let schema = if required.contains(&field) {
                        json!({"type": "string", "minLength": 1, "description": about})
                    } else if accepted.contains(&field) {
                        json!({"type": ["string", "null"], "description": about})
                    } else {
                        json!({"type": ["string", "null"], "maxLength": 0,
                            "description": format!("not used by {provider}: leave it out")})
                    };
                    fields.insert(field.to_owned(), schema);
                }
                json!({
                    "type": "object",
                    "title": provider.as_str(),
                    "required": ["provider", "name", "credentials"],
                    "properties": {
                        "provider": {"type": "string", "enum": [provider.as_str()]},
                        "name": {"type": "string", "maxLength": 200, "pattern": r"\S"},
                        "credentials": {
                            "type": "object",
                            "description": "Write-only; the fields this provider uses.",
                            "required": required,
                            "properties": fields,
                            "additionalProperties": false,
                        },
                        "base_url": {"type": ["string", "null"], "pattern": BASE_URL_PATTERN,
                            "description": "Overrides the provider's API host (sandboxes, proxies, tests). \
                                Must be on a public internet address (422 `address_not_allowed`)."},
                    },
                    "additionalProperties": false,
                })
            })
            .collect();
        crate::openapi::hand_written(json!({
            "description": "A connection to one provider; `provider` picks the credentials it needs.",
            "oneOf": variants,
        }))
    }
}

impl ToSchema for CreateConnectionRequest {}

/// Only the fields given change; credentials merge field by field. A new
/// `base_url` must come with the credentials sent to it (`access_token` for
/// meta, `api_key` for the others), else 422 `credentials_required`; `null`
/// (the provider's own host) needs none.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnectionRequest {
    #[schema(max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    pub credentials: Option<CredentialsRequest>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable, pattern = r"^ *[Hh][Tt][Tt][Pp][Ss]?://[^/\s]")]
    pub base_url: Option<Option<String>>,
}

/// The credentials a provider's client sends to its base URL: the ones a new
/// base URL must come with (webhook secrets and ids never leave wacrm).
fn sent_to_base_url(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Meta => &["access_token"],
        Provider::Lipachat | Provider::Whats91 | Provider::Tata => &["api_key"],
    }
}

/// List connections.
#[utoipa::path(tag = "connections", params(PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<ConnectionResponse>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/connections")]
pub async fn list_connections(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<ConnectionResponse>>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let page = connections::list(&mut conn, &state.cipher, page.request()?).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|c| c.id).collect();
    let latest = provider_errors::latest_of(&mut conn, &ids).await?;
    Ok(web::Json(PageResponse::from_page(page, |c| {
        ConnectionResponse::new(c, &state.public_url).with_last_error(&latest)
    })))
}

/// Create a connection; the answer names the webhook URL to register.
#[utoipa::path(tag = "connections", request_body = CreateConnectionRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = ConnectionResponse),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/connections")]
pub async fn create_connection(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateConnectionRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let body = body.into_inner();
    let Some(provider) = Provider::parse(&body.provider) else {
        return Err(ApiError::validation(vec![FieldError {
            field: "provider".into(),
            message: "must be one of meta, lipachat, whats91, tata".into(),
        }]));
    };
    let mut checks = Checks::default();
    let name = checks.text("name", &body.name, 200);
    let mut credentials = body.credentials.into_credentials(provider, &mut checks);
    for field in credentials.missing(provider) {
        checks.fail(
            &format!("credentials.{field}"),
            format!("{provider} needs it"),
        );
    }
    checks.finish()?;
    if let Some(base_url) = body.base_url.as_deref() {
        base_url::check(state.egress, "base_url", base_url).await?;
    }
    if !provider.signs_webhooks() {
        credentials.webhook_token = Some(tokens::new_secret());
    }
    let mut conn = state.conn().await?;
    let created = connections::insert(
        &mut conn,
        &state.cipher,
        NewConnection {
            id: Uuid::now_v7(),
            provider,
            name,
            base_url: body.base_url,
            credentials,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(ConnectionResponse::new(created, &state.public_url)))
}

/// One connection.
#[utoipa::path(tag = "connections", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConnectionResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/connections/{id}")]
pub async fn get_connection(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ConnectionResponse>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let connection = connections::find(&mut conn, &state.cipher, *id).await?;
    let latest = provider_errors::latest_of(&mut conn, &[connection.id]).await?;
    Ok(web::Json(
        ConnectionResponse::new(connection, &state.public_url).with_last_error(&latest),
    ))
}

/// Change a connection's name, API host or credentials.
#[utoipa::path(tag = "connections", params(("id" = Uuid, Path)), request_body = UpdateConnectionRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConnectionResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/connections/{id}")]
pub async fn update_connection(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateConnectionRequest>,
) -> ApiResult<web::Json<ConnectionResponse>> {
    principal.require(Permission::ADMIN)?;
    let body = body.into_inner();
    let mut conn = state.conn().await?;
    let mut connection = connections::find(&mut conn, &state.cipher, *id).await?;
    let mut checks = Checks::default();
    if let Some(name) = &body.name {
        connection.name = checks.text("name", name, 200);
    }
    let changes = body
        .credentials
        .map(|credentials| credentials.into_credentials(connection.provider, &mut checks))
        .unwrap_or_default();
    checks.finish()?;
    if let Some(base_url) = body.base_url {
        if base_url != connection.base_url {
            if let Some(url) = base_url.as_deref() {
                base_url::check(state.egress, "base_url", url).await?;
                let missing: Vec<String> = sent_to_base_url(connection.provider)
                    .iter()
                    .filter(|field| changes.get(field).is_none())
                    .map(|field| format!("credentials.{field}"))
                    .collect();
                if !missing.is_empty() {
                    return Err(base_url::credentials_required(&missing));
                }
            }
        }
        connection.base_url = base_url;
    }
    connection.credentials.merge(changes);
    let updated = connections::update(&mut conn, &state.cipher, &connection).await?;
    state.connections.forget(updated.id);
    let latest = provider_errors::latest_of(&mut conn, &[updated.id]).await?;
    Ok(web::Json(
        ConnectionResponse::new(updated, &state.public_url).with_last_error(&latest),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateWebhookTokenRequest {
    /// How long the previous URL keeps working, in hours (0–720, default 24).
    #[schema(minimum = 0, maximum = 720)]
    #[serde(default, deserialize_with = "crate::validation::whole_number")]
    pub grace_period_hours: Option<i64>,
}

/// Give a Lipachat or TATA connection a new webhook URL secret. The previous
/// URL keeps working for the grace period, so the provider can be updated
/// without losing webhooks; conversations and messages stay as they are.
#[utoipa::path(tag = "connections", params(("id" = Uuid, Path)), request_body = RotateWebhookTokenRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConnectionResponse, description = "the connection with its new `webhook_url`"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`, or `webhook_token_not_used` for a provider that signs its webhooks"),
))]
#[post("/connections/{id}/rotate-webhook-token")]
pub async fn rotate_webhook_token(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<RotateWebhookTokenRequest>,
) -> ApiResult<web::Json<ConnectionResponse>> {
    principal.require(Permission::ADMIN)?;
    let hours = body.grace_period_hours.unwrap_or(24);
    let mut checks = Checks::default();
    if !(0..=720).contains(&hours) {
        checks.fail("grace_period_hours", "must be between 0 and 720");
    }
    checks.finish()?;
    let mut conn = state.conn().await?;
    let mut connection = connections::find(&mut conn, &state.cipher, *id).await?;
    if connection.provider.signs_webhooks() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "webhook_token_not_used",
            "this provider signs its webhooks; its URL carries no token to rotate",
        ));
    }
    let credentials = &mut connection.credentials;
    credentials.previous_webhook_token = credentials.webhook_token.take();
    credentials.previous_webhook_token_until = Some(Utc::now() + chrono::Duration::hours(hours));
    credentials.webhook_token = Some(tokens::new_secret());
    let updated = connections::update(&mut conn, &state.cipher, &connection).await?;
    state.connections.forget(updated.id);
    tracing::info!(connection_id = %updated.id, grace_period_hours = hours, "webhook token rotated");
    Ok(web::Json(ConnectionResponse::new(
        updated,
        &state.public_url,
    )))
}

/// Delete a connection with its numbers, conversations and messages.
#[utoipa::path(tag = "connections", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/connections/{id}")]
pub async fn delete_connection(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    connections::delete(&mut conn, *id).await?;
    state.connections.forget(*id);
    Ok(HttpResponse::NoContent().finish())
}
