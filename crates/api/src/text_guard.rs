//! What every API request's text must be, checked before any handler sees it: a NUL
//! character (U+0000) in the path, query or JSON body answers 422
//! `invalid_character` (one policy for every route, instead of a 500 from the first
//! statement that binds the text: PostgreSQL's `text` has no NUL), and a JSON body
//! must be an object (400 `invalid_body`). A whole number written with a fraction or
//! an exponent (`20.0`, `2e1`) reaches the handler as the integer it is.
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
                    let body = match whole_numbers_as_integers(&body) {
                        Some(rewritten) => rewritten.into(),
                        None => body.freeze(),
                    };
                    request.set_payload(Payload::from(body));
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

/// JSON Schema's `integer` is any number whose fraction is zero, so `20.0` and `2e1`
/// are integers to every client the document describes (and clients that hold every
/// number as a double send them so), while serde's integer types refuse them. Such
/// numbers are rewritten as integers here, once for every route and integer field;
/// a real fraction (`20.5`) still reaches the handler, and its refusal. The body is
/// parsed only when a digit is followed by `.`, `e` or `E` somewhere in it, and
/// rewritten only when a number changed. Beyond 2^53 a double is not exact: kept.
fn whole_numbers_as_integers(json: &[u8]) -> Option<Vec<u8>> {
    let may_hold_one = json
        .windows(2)
        .any(|pair| pair[0].is_ascii_digit() && matches!(pair[1], b'.' | b'e' | b'E'));
    if !may_hold_one {
        return None;
    }
    let mut value: serde_json::Value = serde_json::from_slice(json).ok()?;
    if !integers_in_place(&mut value) {
        return None;
    }
    serde_json::to_vec(&value).ok()
}

/// Whether any number in `value` was a whole double now written as an integer.
fn integers_in_place(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            match number.as_f64() {
                // Exact: a whole double below 2^53 converts without loss.
                Some(whole) if whole.fract() == 0.0 && whole.abs() < 9.0e15 => {
                    *value = Value::from(whole as i64);
                    true
                }
                _ => false,
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| integers_in_place(item) | changed),
        Value::Object(fields) => fields
            .values_mut()
            .fold(false, |changed, field| integers_in_place(field) | changed),
        _ => false,
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

    fn rewritten(json: &str) -> Option<String> {
        whole_numbers_as_integers(json.as_bytes()).map(|body| String::from_utf8(body).unwrap())
    }

    #[test]
    fn whole_numbers_become_integers_and_nothing_else_changes() {
        assert_eq!(
            rewritten(r#"{"a": 20.0, "b": [1e2, -3.0], "c": {"d": 0.0}}"#).as_deref(),
            Some(r#"{"a":20,"b":[100,-3],"c":{"d":0}}"#)
        );
        assert_eq!(rewritten(r#"{"a": 20.5, "b": 20}"#), None);
        assert_eq!(rewritten(r#"{"version": "1.0", "n": 3}"#), None);
        assert_eq!(rewritten(r#"{"a": 1e300}"#), None);
        assert_eq!(rewritten(r#"{"a": 1.0"#), None);
    }

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
