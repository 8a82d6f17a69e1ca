//! What every API request's text must be, checked before any handler sees it: a NUL
//! character (U+0000) in the path, query or JSON body answers 422
//! `invalid_character` (one policy for every route, instead of a 500 from the first
//! statement that binds the text: PostgreSQL's `text` has no NUL), and a JSON body
//! must be an object (400 `invalid_body`).
//!
//! Webhooks are not guarded here: providers' bodies are kept, and their parser drops
//! the character from the text it reads.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::web::BytesMut;
use actix_web::{HttpMessage as _, HttpResponse};
use futures_util::StreamExt as _;

use crate::app::API_BODY_LIMIT;
use crate::error::ApiError;

pub async fn middleware(
    mut request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !request.path().starts_with("/api/") {
        return Ok(next.call(request).await?.map_into_left_body());
    }
    let refusal =
        if has_encoded_nul(request.uri().path()) || has_encoded_nul(request.query_string()) {
            Some(invalid_character("the path or query"))
        } else if is_json(&request) {
            match read_body(&mut request).await? {
                Ok(body) if has_escaped_nul(&body) => Some(invalid_character("the body")),
                Ok(body) if !is_object_or_empty(&body) => Some(ApiError::bad_request(
                    "invalid_body",
                    "the body must be a JSON object",
                )),
                Ok(body) => {
                    request.set_payload(Payload::from(body.freeze()));
                    None
                }
                Err(too_large) => Some(too_large),
            }
        } else {
            None
        };
    match refusal {
        Some(error) => {
            let response: HttpResponse = actix_web::ResponseError::error_response(&error);
            Ok(request.into_response(response).map_into_right_body())
        }
        None => Ok(next.call(request).await?.map_into_left_body()),
    }
}

fn invalid_character(place: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_character",
        format!("{place} contains a NUL character (U+0000), which text cannot hold"),
    )
}

fn is_json(request: &ServiceRequest) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            let essence = essence.trim().to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
}

/// The whole body, or 413 past the API's limit (the JSON extractor's own answer).
async fn read_body(
    request: &mut ServiceRequest,
) -> Result<Result<BytesMut, ApiError>, actix_web::Error> {
    let mut payload = request.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > API_BODY_LIMIT {
            return Ok(Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than {API_BODY_LIMIT} bytes"),
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Ok(body))
}

/// Every API body is a JSON object: serde would otherwise read a struct from an
/// array (`[null, null]` as its fields in order), which no client means.
fn is_object_or_empty(json: &[u8]) -> bool {
    match json.iter().find(|b| !b.is_ascii_whitespace()) {
        None | Some(b'{') => true,
        Some(_) => false,
    }
}

fn has_encoded_nul(text: &str) -> bool {
    text.contains("%00")
}

/// Whether a JSON text holds the escape `\u0000`. A raw NUL cannot appear in valid
/// JSON, so the escape is the only way in; walking escapes pairwise keeps `\\u0000`
/// (a backslash, then the text "u0000") from being mistaken for one. Parsing the body
/// into a `Value` to look would cost a second full parse per request.
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json.get(i + 1) == Some(&b'u') && json.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_real_escape_is_a_nul() {
        assert!(has_escaped_nul(br#"{"name":"a\u0000b"}"#));
        assert!(!has_escaped_nul(br#"{"name":"a\\u0000b"}"#));
        assert!(has_escaped_nul(br#"{"name":"a\\\u0000b"}"#));
        assert!(!has_escaped_nul(br#""\u00"#));
        assert!(!has_escaped_nul(br#"{"name":"\u0001"}"#));
        assert!(!has_escaped_nul(b"\\"));
    }
}
