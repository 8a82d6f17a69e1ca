//! Every failure the API answers, as RFC 9457 `application/problem+json`.
//!
//! Policy: a client error names what was wrong with a stable `code` (and field
//! errors for validation); a server error is logged with its cause and answered
//! with an opaque 500 that carries only the request id. Nothing internal, and
//! never a secret, reaches a response body.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;
use wacrm_domain::Permission;
use wacrm_persistence::StoreError;

use crate::request_id;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:wacrm:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable: clients branch on this.
    pub code: String,
    /// The id the server logs carry for this request.
    pub request_id: String,
    /// Field-by-field validation failures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For `permission_denied`: the permission that was missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// For `session_expired`: when the 24-hour window closed (`null`: never opened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Option<chrono::DateTime<chrono::Utc>>>,
    /// What to do instead, when there is something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For a conflict with one existing record (e.g. `whatsapp_contact_exists`): its id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: Cow<'static, str>,
    /// Boxed: most errors have none, and `Result<T, ApiError>` stays small.
    extras: Box<Extras>,
}

/// What only some problems carry.
#[derive(Debug, Default)]
struct Extras {
    errors: Vec<FieldError>,
    permission: Option<Permission>,
    retry_after_secs: Option<u64>,
    expires_at: Option<Option<chrono::DateTime<chrono::Utc>>>,
    hint: Option<String>,
    /// For 405: the methods the path does answer (the `Allow` header).
    allow: Option<String>,
    existing_id: Option<uuid::Uuid>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            extras: Box::default(),
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.extras.hint = Some(hint.into());
        self
    }

    /// The fields at fault, for a problem other than `validation_failed`.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.extras.errors = errors;
        self
    }

    /// 422 `session_expired`: free-form content outside the 24-hour window.
    pub fn session_expired(expires_at: Option<chrono::DateTime<chrono::Utc>>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "session_expired",
            "the customer has not written in the last 24 hours, so only an approved template can be sent",
        )
        .with_hint("send a template message (type \"template\") to re-open the conversation");
        error.extras.expires_at = Some(expires_at);
        error
    }

    /// 409 `cannot_change_self`: the caller would lock themselves out (deactivate
    /// or delete their own staff account, or take `admin` from it). For an API
    /// key the caller's account is that of the staff member who created it.
    pub fn cannot_change_self(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, "cannot_change_self", detail)
    }

    pub fn bad_request(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthorized(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    pub fn forbidden(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    pub fn missing_permission(permission: Permission) -> Self {
        let mut error = Self::forbidden(
            "permission_denied",
            format!("this requires the `{permission}` permission"),
        );
        error.extras.permission = Some(permission);
        error
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the request has invalid fields",
        );
        error.extras.errors = errors;
        error
    }

    /// 422 `invalid_reference`: `field` names no existing (or no usable) record.
    pub fn invalid_reference(field: &str) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reference",
            "the request refers to a record that does not exist",
        );
        error.extras.errors = vec![FieldError {
            field: field.to_owned(),
            message: "names no existing record".into(),
        }];
        error
    }

    /// 409 `code`: the record would duplicate `existing_id`.
    pub fn conflict_with(
        code: &'static str,
        detail: impl Into<Cow<'static, str>>,
        existing_id: uuid::Uuid,
    ) -> Self {
        let mut error = Self::new(StatusCode::CONFLICT, code, detail);
        error.extras.existing_id = Some(existing_id);
        error
    }

    /// 405 `method_not_allowed`, with the methods `path` answers in `Allow`.
    pub fn method_not_allowed(allow: String) -> Self {
        let mut error = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this path answers {allow}"),
        );
        error.extras.allow = Some(allow);
        error
    }

    pub fn too_many_requests(retry_after_secs: u64, detail: impl Into<Cow<'static, str>>) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", detail);
        error.extras.retry_after_secs = Some(retry_after_secs.max(1));
        error
    }

    /// 503 `query_timeout`: the database cancelled a query that ran past the
    /// API's statement timeout (`WACRM_API_STATEMENT_TIMEOUT_MS`).
    pub fn query_timeout() -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "query_timeout",
            "the query took longer than the server allows and was cancelled",
        )
        .with_hint("narrow the request (a longer search term, more filters) or try again shortly");
        error.extras.retry_after_secs = Some(1);
        error
    }

    /// Logs `cause` with the request id and hides it from the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed; quote the request id when reporting this",
        )
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:wacrm:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.to_string(),
            code: self.code.to_owned(),
            request_id: request_id::current(),
            errors: self.extras.errors.clone(),
            permission: self.extras.permission.map(|p| p.as_str().to_owned()),
            expires_at: self.extras.expires_at,
            hint: self.extras.hint.clone(),
            existing_id: self.extras.existing_id,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.content_type("application/problem+json");
        if let Some(seconds) = self.extras.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        if let Some(allow) = self.extras.allow.as_deref() {
            if let Ok(value) = HeaderValue::from_str(allow) {
                response.insert_header((header::ALLOW, value));
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        response.json(self.problem())
    }
}

/// Storage failures: constraint violations become client errors, the rest 500.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::new(StatusCode::NOT_FOUND, "not_found", "no such record"),
            StoreError::Conflict(constraint) => Self::new(
                StatusCode::CONFLICT,
                "already_exists",
                format!(
                    "a record with the same {} already exists",
                    constraint_field(&constraint)
                ),
            ),
            StoreError::Reference(constraint) => {
                Self::invalid_reference(constraint_field(&constraint))
            }
            StoreError::Timeout => {
                tracing::warn!("an API query ran past WACRM_API_STATEMENT_TIMEOUT_MS");
                Self::query_timeout()
            }
            other => Self::internal(other),
        }
    }
}

/// For diesel-async transactions, whose error type must absorb diesel's.
impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        StoreError::from(error).into()
    }
}

/// The column a constraint is about: `staff_email_key` -> `email`,
/// `leads_status_id_fkey` -> `status_id`.
fn constraint_field(constraint: &str) -> &str {
    const KNOWN: &[(&str, &str)] = &[
        ("staff_email_key", "email"),
        ("lead_statuses_name_key", "name"),
        ("lead_sources_name_key", "name"),
        ("leads_status_id_fkey", "status_id"),
        ("leads_source_id_fkey", "source_id"),
        ("leads_assigned_staff_id_fkey", "assigned_staff_id"),
        ("tickets_assigned_to_fkey", "assigned_to"),
        ("tickets_conversation_id_fkey", "conversation_id"),
        ("tickets_lead_id_fkey", "lead_id"),
        ("tickets_contact_id_fkey", "contact_id"),
        ("quick_replies_shortcut_key", "shortcut"),
        ("whatsapp_groups_name_key", "name"),
        ("segments_name_key", "name"),
    ];
    KNOWN
        .iter()
        .find(|(name, _)| *name == constraint)
        .map(|(_, field)| *field)
        .unwrap_or("value")
}

/// Turns actix's extractor failures into problems (JSON body, path, query).
pub mod extractors {
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};

    use super::*;

    pub fn json(error: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
        let problem = match &error {
            JsonPayloadError::Overflow { limit }
            | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than the {limit} bytes allowed"),
            ),
            JsonPayloadError::ContentType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ),
            JsonPayloadError::Deserialize(inner) if inner.is_data() => {
                ApiError::bad_request("invalid_body", format!("the body does not fit: {inner}"))
            }
            JsonPayloadError::Deserialize(inner) => ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {inner}"),
            ),
            other => ApiError::bad_request("invalid_body", other.to_string()),
        };
        problem.into()
    }

    pub fn path(error: PathError, request: &HttpRequest) -> actix_web::Error {
        // `/bots/test` is also `/bots/{id}` to the router: asked with a method only
        // `/bots/{id}` answers, the literal path's methods are the truth (405).
        if let Some(allowed) =
            request.app_data::<actix_web::web::Data<crate::openapi::AllowedMethods>>()
            && let Some(allow) = allowed.for_path(request.path())
            && !allow
                .split(", ")
                .any(|method| method == request.method().as_str())
        {
            return ApiError::method_not_allowed(allow.to_owned()).into();
        }
        let PathError::Deserialize(inner) = &error else {
            return ApiError::bad_request("invalid_path", error.to_string()).into();
        };
        ApiError::bad_request(
            "invalid_path",
            format!("a path segment is invalid: {inner}"),
        )
        .into()
    }

    pub fn query(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
        ApiError::bad_request(
            "invalid_query",
            format!("the query string is invalid: {error}"),
        )
        .into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
