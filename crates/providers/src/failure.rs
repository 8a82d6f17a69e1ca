//! A refusal from Lipachat, Whats91 or TATA as a [`ProviderError`].
//!
//! None of them documents a full error catalogue, so the HTTP status decides the
//! class (401/403: credentials; 408/425/429/5xx: retry; anything else: give up) and
//! the body supplies the provider's code and reason, wherever it puts them:
//! `{error: {code, message}}`, `{code, message}`, `{errorCode, errorMessage}`,
//! `{status: "error", message, errors}`. A relayed Meta error (TATA and Whats91 pass
//! Meta's through) is read as Meta's, so 131047 means the same on every provider.

use serde_json::Value;
use wacrm_domain::Provider;

use crate::call::Answer;
use crate::error::ProviderError;
use crate::meta;
use crate::webhook::json;

/// Provider codes that mean our key was refused, whatever HTTP status came with them.
const AUTH_CODES: [&str; 4] = [
    "MISSING_BEARER_TOKEN",
    "INVALID_PUBLIC_API_TOKEN",
    "SENDER_NOT_ALLOWED",
    "UNAUTHORIZED",
];

pub(crate) fn name(provider: Provider) -> &'static str {
    match provider {
        Provider::Meta => "Meta",
        Provider::Lipachat => "Lipachat",
        Provider::Whats91 => "Whats91",
        Provider::Tata => "TATA",
    }
}

/// The error an answer stands for: a non-2xx answer, or a 2xx whose body says it
/// failed (Lipachat and Whats91 do that).
pub(crate) fn classify(provider: Provider, answer: &Answer) -> ProviderError {
    let status = answer.status.as_u16();
    if meta::errors::is_meta_error(&answer.body) {
        // A 2xx carrying Meta's error is still Meta's refusal.
        let status = if answer.is_success() { 400 } else { status };
        return meta::errors::classify(status, answer.retry_after, &answer.body);
    }
    let provider_code = code(&answer.body);
    let reason = reason(&answer.body);
    let provider_name = name(provider);
    let auth_code = provider_code
        .as_deref()
        .is_some_and(|code| AUTH_CODES.contains(&code.to_ascii_uppercase().as_str()));
    let code = provider_code.or_else(|| Some(status.to_string()));
    let said = reason
        .map(|reason| format!(": {}", reason.trim().trim_end_matches('.')))
        .unwrap_or_default();

    if auth_code || matches!(status, 401 | 403) {
        ProviderError::Auth {
            code,
            message: format!(
                "{provider_name} refused the API key{said}. Check the key in the connection \
                 settings"
            ),
        }
    } else if matches!(status, 408 | 425 | 429 | 500..=599) {
        ProviderError::Retryable {
            code,
            message: format!(
                "{provider_name} could not take the request just now (HTTP {status}){said}"
            ),
            retry_after: answer.retry_after,
        }
    } else {
        ProviderError::Permanent {
            code,
            message: format!("{provider_name} refused the request{said}"),
        }
    }
}

/// An answer that is not what the API documents, e.g. a success without an id.
pub(crate) fn unexpected(provider: Provider, what: &str) -> ProviderError {
    ProviderError::Permanent {
        code: None,
        message: format!(
            "{} answered without {what}: the message may or may not have been sent",
            name(provider)
        ),
    }
}

fn code(body: &Value) -> Option<String> {
    let error = body.get("error");
    error
        .filter(|error| error.is_object())
        .and_then(|error| json::first_text(error, &["code", "errorCode", "error_code"]))
        .or_else(|| json::first_text(body, &["errorCode", "error_code", "code"]))
        .or_else(|| {
            // `{"error": "INVALID_TOKEN", "message": "…"}`: a code-like string.
            error
                .and_then(Value::as_str)
                .filter(|text| !text.contains(' '))
                .map(str::to_owned)
        })
}

fn reason(body: &Value) -> Option<String> {
    let error = body.get("error");
    let nested = error
        .filter(|error| error.is_object())
        .and_then(|error| json::first_text(error, &["message", "details", "description"]));
    let flat = || {
        json::first_text(
            body,
            &[
                "message",
                "errorMessage",
                "error_message",
                "statusDesc",
                "detail",
            ],
        )
    };
    let sentence = || error.and_then(Value::as_str).map(str::to_owned);
    let listed = || {
        let errors = body.get("errors")?.as_array()?;
        let reasons: Vec<String> = errors
            .iter()
            .filter_map(|item| {
                json::as_text(item).or_else(|| json::first_text(item, &["message", "title"]))
            })
            .collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    };
    // Lipachat answers `message: "success"`-style words even on failure; skip them.
    let meaningful = |text: &String| {
        !matches!(
            text.trim().to_ascii_lowercase().as_str(),
            "error" | "failed" | "failure" | "success"
        )
    };
    nested
        .filter(meaningful)
        .or_else(|| listed().filter(meaningful))
        .or_else(|| flat().filter(meaningful))
        .or_else(|| sentence().filter(meaningful))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::StatusCode;
    use serde_json::json;

    use super::*;

    fn answer(status: u16, body: Value) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: Some(Duration::from_secs(3)),
            body,
        }
    }

    #[test]
    fn a_refused_key_is_an_auth_error() {
        let error = classify(
            Provider::Whats91,
            &answer(
                401,
                json!({"error": {"message": "Invalid, expired, revoked, or inactive token.", "type": "Whats91PublicApiException", "code": "INVALID_PUBLIC_API_TOKEN"}}),
            ),
        );
        assert_eq!(
            error,
            ProviderError::Auth {
                code: Some("INVALID_PUBLIC_API_TOKEN".into()),
                message: "Whats91 refused the API key: Invalid, expired, revoked, or inactive \
                          token. Check the key in the connection settings"
                    .into()
            }
        );
    }

    #[test]
    fn overload_is_retryable_and_keeps_retry_after() {
        let error = classify(Provider::Lipachat, &answer(503, Value::Null));
        assert_eq!(
            error,
            ProviderError::Retryable {
                code: Some("503".into()),
                message: "Lipachat could not take the request just now (HTTP 503)".into(),
                retry_after: Some(Duration::from_secs(3)),
            }
        );
    }

    #[test]
    fn a_refusal_names_the_reason_however_it_is_spelled() {
        let lipachat = classify(
            Provider::Lipachat,
            &answer(
                200,
                json!({"timestamp": null, "data": null, "status": "error", "message": "error", "errors": ["Invalid phone number"]}),
            ),
        );
        assert_eq!(
            lipachat,
            ProviderError::Permanent {
                code: Some("200".into()),
                message: "Lipachat refused the request: Invalid phone number".into()
            }
        );
        let whats91 = classify(
            Provider::Whats91,
            &answer(
                400,
                json!({"success": false, "error": {"code": "MISSING_TEXT", "message": "Message text is required"}}),
            ),
        );
        assert_eq!(
            whats91,
            ProviderError::Permanent {
                code: Some("MISSING_TEXT".into()),
                message: "Whats91 refused the request: Message text is required".into()
            }
        );
    }

    #[test]
    fn a_relayed_meta_error_reads_as_meta() {
        let error = classify(
            Provider::Tata,
            &answer(
                400,
                json!({"error": {"message": "Re-engagement message", "code": 131047}}),
            ),
        );
        assert!(matches!(
            error,
            ProviderError::Permanent { code: Some(ref code), ref message }
                if code == "131047" && message.starts_with("The customer's 24-hour window is closed")
        ));
    }
}
