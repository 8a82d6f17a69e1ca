//! How a call to a provider failed, classified for the caller: retry later,
//! give up, or fix the credentials. The provider's own code is kept.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Timeouts, rate limits, 5xx: the same call may succeed later.
    #[error("{message} (retryable{})", code_suffix(.code))]
    Retryable {
        code: Option<String>,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The provider refused the request itself: retrying cannot help.
    #[error("{message}{}", code_suffix(.code))]
    Permanent {
        code: Option<String>,
        message: String,
    },
    /// Our credentials were refused (e.g. an expired access token).
    #[error("credentials refused: {message}{}", code_suffix(.code))]
    Auth {
        code: Option<String>,
        message: String,
    },
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_ref()
        .map(|code| format!(" [{code}]"))
        .unwrap_or_default()
}

impl ProviderError {
    /// Classifies a transport failure (no HTTP answer).
    pub fn transport(error: &reqwest::Error) -> Self {
        if crate::egress::was_refused(error) {
            return Self::from(crate::egress::Refused);
        }
        // reqwest's Display can include the URL, which may carry a token:
        // report only what kind of failure it was.
        let message = if error.is_timeout() {
            "the provider did not answer in time"
        } else if error.is_connect() {
            "the provider could not be reached"
        } else {
            "the request to the provider failed"
        };
        Self::Retryable {
            code: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Classifies an HTTP status when the body says nothing more useful.
    pub fn from_status(status: reqwest::StatusCode, retry_after: Option<Duration>) -> Self {
        let code = Some(status.as_u16().to_string());
        let message = format!("the provider answered HTTP {status}");
        match status.as_u16() {
            401 | 403 => Self::Auth { code, message },
            408 | 425 | 429 | 500..=599 => Self::Retryable {
                code,
                message,
                retry_after,
            },
            _ => Self::Permanent { code, message },
        }
    }
}

/// The target is not a public address: no request was sent, and none ever will be.
impl From<crate::egress::Refused> for ProviderError {
    fn from(refused: crate::egress::Refused) -> Self {
        Self::Permanent {
            code: None,
            message: refused.to_string(),
        }
    }
}

/// The `Retry-After` header in seconds, if any.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}
