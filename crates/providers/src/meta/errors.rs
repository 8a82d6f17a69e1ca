//! Meta's error answers, `{error: {message, type, code, error_subcode, error_data:
//! {details}, fbtrace_id}}`, as a [`ProviderError`]: retry, give up, or fix the
//! credentials, with Meta's code kept and a sentence an operator can act on.
//!
//! TATA and Whats91 relay Meta's errors in the same shape, so they use this too when
//! the code is one of Meta's.

use std::time::Duration;

use serde_json::Value;

use crate::error::ProviderError;
use crate::webhook::json;

/// How a code is handled, and what to tell the operator.
struct Known {
    class: Class,
    sentence: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Retryable,
    Permanent,
    Auth,
}

/// Meta's codes that need more than Meta's own message. Anything else is classified
/// by its HTTP status and reported with Meta's message.
fn known(code: i64) -> Option<Known> {
    use Class::{Auth, Permanent, Retryable};
    let (class, sentence) = match code {
        131047 => (
            Permanent,
            "The customer's 24-hour window is closed: send an approved template instead",
        ),
        131026 => (
            Permanent,
            "WhatsApp could not deliver the message: the number may not be on WhatsApp, or the \
             customer has not accepted WhatsApp's latest terms",
        ),
        131049 => (
            Permanent,
            "Meta held back this marketing message to keep engagement healthy: try again later \
             or reach the customer another way",
        ),
        131050 => (
            Permanent,
            "The customer stopped marketing messages from this business in WhatsApp: they are \
             now opted out, and only utility or authentication templates reach them",
        ),
        131021 => (Permanent, "The recipient is the business number itself"),
        131051 => (Permanent, "WhatsApp does not support this message type"),
        131052 => (
            Permanent,
            "Meta could not download the media: make sure the link is public and the file \
             type is allowed",
        ),
        131053 => (
            Permanent,
            "Meta could not process the media: check its type and size",
        ),
        131008 => (Permanent, "A required parameter is missing"),
        131009 => (Permanent, "A parameter value is not valid"),
        131031 => (
            Permanent,
            "The WhatsApp Business account is locked: see WhatsApp Manager",
        ),
        131042 => (
            Permanent,
            "Meta refused the message over a payment problem on the WhatsApp Business account",
        ),
        133010 => (
            Permanent,
            "The business number is not registered with the WhatsApp Cloud API",
        ),
        368 => (
            Permanent,
            "The account is temporarily blocked for policy violations",
        ),
        100 => (Permanent, "Meta refused a parameter of the request"),
        132000 => (
            Permanent,
            "The number of template parameters does not match the template: sync the \
             templates and fill every placeholder",
        ),
        132001 => (
            Permanent,
            "The template does not exist in this language or is not approved yet",
        ),
        132005 => (
            Permanent,
            "The template text is too long once its parameters are filled in",
        ),
        // Business-scoped user ids: authentication templates (one-tap, zero-tap,
        // copy-code) still need a phone number.
        131062 => (
            Permanent,
            "WhatsApp cannot send this message to a customer known only by their user id \
             (authentication templates need a phone number)",
        ),
        132007 => (
            Permanent,
            "The template's content breaks WhatsApp's formatting policy",
        ),
        132012 => (
            Permanent,
            "A template parameter has the wrong format (e.g. text where media is expected)",
        ),
        132015 => (
            Permanent,
            "The template is paused for low quality: edit it or use another",
        ),
        132016 => (
            Permanent,
            "The template is disabled for low quality: create a new one",
        ),
        190 => (
            Auth,
            "The Meta access token has expired or is invalid: enter a new one in the \
             connection settings",
        ),
        0 | 3 | 10 | 102 | 131005 | 200..=299 => (
            Auth,
            "The Meta access token lacks the permission for this: check the system user's \
             permissions on the WhatsApp Business account",
        ),
        130429 => (
            Retryable,
            "Meta's throughput limit for this number was reached: the message will be retried",
        ),
        131056 => (
            Retryable,
            "Too many messages to this customer in a short time: the message will be retried",
        ),
        131048 => (
            Retryable,
            "Meta is limiting how many messages this number may send: the message will be \
             retried",
        ),
        4 | 17 | 32 | 613 | 80007 => (
            Retryable,
            "Meta's API rate limit was reached: the request will be retried",
        ),
        1 | 2 | 131000 | 131001 | 131002 | 131016 | 131057 => (
            Retryable,
            "Meta could not process the request just now: it will be retried",
        ),
        _ => return None,
    };
    Some(Known { class, sentence })
}

/// Whether `body` is one of Meta's error answers with a code this module knows, i.e.
/// whether a relaying provider's error should be read as Meta's.
pub(crate) fn is_meta_error(body: &Value) -> bool {
    code(body).and_then(known).is_some()
}

/// The error a failed Meta answer stands for.
pub(crate) fn classify(
    http_status: u16,
    retry_after: Option<Duration>,
    body: &Value,
) -> ProviderError {
    let Some(error) = body.get("error").filter(|error| error.is_object()) else {
        return ProviderError::from_status(
            reqwest::StatusCode::from_u16(http_status).unwrap_or(reqwest::StatusCode::BAD_GATEWAY),
            retry_after,
        );
    };
    let code = code(body);
    let meta_message = json::text(error, "message");
    let details = error
        .get("error_data")
        .and_then(|data| json::text(data, "details"));
    let subcode = json::text(error, "error_subcode");
    let known = code.and_then(known);

    let class = match (&known, http_status) {
        (_, 401) => Class::Auth,
        (Some(known), _) => known.class,
        (None, 403) => Class::Auth,
        (None, 408 | 425 | 429 | 500..=599) => Class::Retryable,
        (None, _) => Class::Permanent,
    };
    let sentence = match (&known, &meta_message) {
        (Some(known), _) => known.sentence.to_owned(),
        (None, Some(message)) => format!("Meta refused the request: {message}"),
        (None, None) => format!("Meta answered HTTP {http_status}"),
    };
    // Meta's details say what exactly was wrong (which parameter, which limit).
    let mut message = match details {
        Some(said) if !sentence.contains(&said) => {
            format!("{sentence}. Meta says: {}", said.trim_end_matches('.'))
        }
        _ => sentence,
    };
    let code_text = code.map(|code| code.to_string());
    match (&code_text, &subcode) {
        (Some(code), Some(subcode)) => message.push_str(&format!(" (Meta {code}/{subcode})")),
        (Some(code), None) => message.push_str(&format!(" (Meta {code})")),
        _ => {}
    }
    let code = code_text.or_else(|| Some(http_status.to_string()));
    match class {
        Class::Retryable => ProviderError::Retryable {
            code,
            message,
            retry_after,
        },
        Class::Permanent => ProviderError::Permanent { code, message },
        Class::Auth => ProviderError::Auth { code, message },
    }
}

fn code(body: &Value) -> Option<i64> {
    let code = body.get("error")?.get("code")?;
    code.as_i64()
        .or_else(|| code.as_str().and_then(|text| text.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error(code: i64, details: Option<&str>) -> Value {
        let mut error = json!({"error": {"message": "(#x) Meta's own words", "type": "OAuthException",
                                          "code": code, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}});
        if let Some(details) = details {
            error["error"]["error_data"] =
                json!({"messaging_product": "whatsapp", "details": details});
        }
        error
    }

    #[test]
    fn a_closed_window_is_permanent_and_says_what_to_do() {
        assert_eq!(
            classify(400, None, &error(131047, None)),
            ProviderError::Permanent {
                code: Some("131047".into()),
                message: "The customer's 24-hour window is closed: send an approved template \
                          instead (Meta 131047)"
                    .into()
            }
        );
        let detailed = classify(
            400,
            None,
            &error(
                131047,
                Some(
                    "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
                ),
            ),
        );
        assert_eq!(
            detailed.to_string(),
            "The customer's 24-hour window is closed: send an approved template instead. \
             Meta says: Message failed to send because more than 24 hours have passed since \
             the customer last replied to this number (Meta 131047) [131047]"
        );
    }

    /// Meta's code for a message a business-scoped user id cannot receive
    /// (https://dualhook.com/docs/contacts-bsuid-api-changes, from Meta's BSUID guide).
    #[test]
    fn a_message_a_user_id_cannot_receive_is_permanent() {
        let error = classify(400, None, &error(131062, None));
        assert!(
            matches!(error, ProviderError::Permanent { code: Some(ref code), .. } if code == "131062")
        );
        assert!(error.to_string().contains("authentication templates"));
    }

    #[test]
    fn rate_limits_are_retryable_with_retry_after() {
        let error = classify(429, Some(Duration::from_secs(7)), &error(130429, None));
        assert!(matches!(
            error,
            ProviderError::Retryable { code: Some(ref code), retry_after: Some(after), .. }
                if code == "130429" && after == Duration::from_secs(7)
        ));
        // Too many messages to one customer too fast (the "pair rate limit"):
        // backs off the same way, without a Retry-After.
        let pair_limit = classify(400, None, &self::error(131056, None));
        assert!(matches!(
            pair_limit,
            ProviderError::Retryable { code: Some(ref code), retry_after: None, .. }
                if code == "131056"
        ));
    }

    #[test]
    fn an_expired_token_is_an_auth_error() {
        let error = classify(401, None, &error(190, Some("Session has expired")));
        assert!(matches!(error, ProviderError::Auth { code: Some(ref code), .. } if code == "190"));
        assert!(error.to_string().contains("connection settings"));
    }

    #[test]
    fn unknown_codes_follow_the_http_status() {
        assert!(matches!(
            classify(503, None, &error(999_999, None)),
            ProviderError::Retryable { .. }
        ));
        let permanent = classify(400, None, &error(999_999, None));
        assert_eq!(
            permanent,
            ProviderError::Permanent {
                code: Some("999999".into()),
                message: "Meta refused the request: (#x) Meta's own words (Meta 999999)".into()
            }
        );
        assert!(matches!(
            classify(503, None, &Value::Null),
            ProviderError::Retryable { code: Some(ref code), .. } if code == "503"
        ));
    }

    #[test]
    fn subcodes_are_named() {
        let mut body = error(100, Some("Invalid parameter"));
        body["error"]["error_subcode"] = json!(33);
        let error = classify(400, None, &body);
        assert_eq!(
            error,
            ProviderError::Permanent {
                code: Some("100".into()),
                message: "Meta refused a parameter of the request. Meta says: Invalid parameter \
                          (Meta 100/33)"
                    .into()
            }
        );
    }
}
