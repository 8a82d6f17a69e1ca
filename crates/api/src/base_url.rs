//! The base URLs admins configure (a connection's provider API, the AI
//! settings' model API): stored secrets are sent there, so such a URL must be
//! on a public address, and moving it means giving the secrets again.
//!
//! Without the second rule, anyone holding an admin key could point a
//! connection at their own host and receive its access token on the next
//! template sync, without ever knowing it. Going back to the provider's own
//! host (`null`) needs no credentials: that is where they belong.

use actix_web::http::StatusCode;
use url::Url;
use wacrm_providers::egress::Egress;

use crate::error::{ApiError, ApiResult, FieldError};

/// An http(s) URL whose host is a public address now (the HTTP client checks
/// it again on every connection).
pub async fn check(egress: Egress, field: &str, value: &str) -> ApiResult<()> {
    let url = Url::parse(value.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
    let Some(url) = url else {
        return Err(ApiError::validation(vec![FieldError {
            field: field.to_owned(),
            message: "must be an http(s) URL".into(),
        }]));
    };
    egress.check_target(&url).await.map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "address_not_allowed",
            "the URL's host is not a public internet address (loopback, private, link-local and metadata addresses are refused)",
        )
        .with_errors(vec![FieldError {
            field: field.to_owned(),
            message: "must be on a public internet address".into(),
        }])
    })
}

/// 422 `credentials_required`: `fields` must come again with the new URL.
pub fn credentials_required(fields: &[String]) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "credentials_required",
        "changing the base URL requires the credentials again in the same request: stored secrets are never sent to a new host",
    )
    .with_errors(
        fields
            .iter()
            .map(|field| FieldError {
                field: field.clone(),
                message: "must be given again when base_url changes".into(),
            })
            .collect(),
    )
}
