//! Headers on every response that stop a browser from running what we serve:
//! `nosniff` (a type is what we say it is) and a Content-Security-Policy that
//! allows nothing, so a customer's HTML or SVG opened from the API stays inert.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_SECURITY_POLICY, HeaderValue, X_CONTENT_TYPE_OPTIONS};
use actix_web::middleware::Next;

/// The API answers JSON and bytes: nothing in it may load, run or be framed.
const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// Swagger UI is a page of its own scripts and styles, from this origin only.
const SWAGGER_UI_POLICY: &str = "default-src 'none'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'";

pub async fn middleware(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let policy = if request.path().starts_with("/swagger-ui/") {
        SWAGGER_UI_POLICY
    } else {
        API_POLICY
    };
    let mut response = next.call(request).await?;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    Ok(response)
}
