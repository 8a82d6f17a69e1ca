//! One HTTP call to a provider, timed and written down for the activity log: what we
//! asked, what came back, how long it took. Every client goes through [`CallLog`], so
//! no call escapes the log and no record can hold a credential: headers are never
//! recorded, bodies pass through the [`Redactor`], and the path is kept without its
//! query or host.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::egress::HttpClient;
use crate::error::{ProviderError, retry_after};
use crate::redact::Redactor;

/// Each call gets this long, from connecting to the last byte of the answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP call as the activity log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub method: String,
    /// The URL's path only: never its query (tokens live there) nor its host.
    pub path: String,
    /// `None` when no answer came (timeout, refused connection).
    pub status: Option<u16>,
    pub duration_ms: u64,
    /// Redacted and truncated to 16 KiB.
    pub request_body: Option<String>,
    /// Redacted and truncated to 16 KiB.
    pub response_body: Option<String>,
    /// Why the call failed, as the caller was told.
    pub error: Option<String>,
}

/// What an operation came to, with every call it made on the way (none when it was
/// refused before reaching the provider).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<T> {
    pub result: Result<T, ProviderError>,
    pub calls: Vec<CallRecord>,
}

/// How a request proves who we are.
#[derive(Clone, Copy)]
pub(crate) enum Auth<'a> {
    /// `Authorization: Bearer <token>` (Meta, Whats91).
    Bearer(&'a str),
    /// A header holding the key as it is (Lipachat's `apiKey`, TATA's `Authorization`).
    Header(&'static str, &'a str),
}

impl Auth<'_> {
    fn secret(&self) -> &str {
        match self {
            Self::Bearer(secret) | Self::Header(_, secret) => secret,
        }
    }

    fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::Bearer(token) => request.bearer_auth(token),
            Self::Header(name, value) => request.header(*name, *value),
        }
    }
}

pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: Url,
    pub auth: Auth<'a>,
    pub body: Option<Value>,
}

impl<'a> Request<'a> {
    pub(crate) fn get(url: Url, auth: Auth<'a>) -> Self {
        Self {
            method: Method::GET,
            url,
            auth,
            body: None,
        }
    }

    pub(crate) fn post(url: Url, auth: Auth<'a>, body: Value) -> Self {
        Self {
            method: Method::POST,
            url,
            auth,
            body: Some(body),
        }
    }
}

/// A provider's answer, whatever its status: each client decides what it means.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    /// The body as JSON; `Null` when it is empty or not JSON.
    pub body: Value,
}

impl Answer {
    pub(crate) fn is_success(&self) -> bool {
        self.status.is_success()
    }
}

/// Makes the calls of one operation and keeps their records.
pub(crate) struct CallLog<'a> {
    http: &'a HttpClient,
    calls: Vec<CallRecord>,
    secrets: Vec<String>,
}

impl<'a> CallLog<'a> {
    pub(crate) fn new(http: &'a HttpClient) -> Self {
        Self {
            http,
            calls: Vec::new(),
            secrets: Vec::new(),
        }
    }

    /// Sends the request. An HTTP error status is an [`Answer`] like any other; only a
    /// call that got no answer is an error here (always retryable).
    pub(crate) async fn call(&mut self, request: Request<'_>) -> Result<Answer, ProviderError> {
        let secret = request.auth.secret().to_owned();
        if !self.secrets.contains(&secret) {
            self.secrets.push(secret);
        }
        let redactor = self.redactor();
        let mut record = CallRecord {
            method: request.method.to_string(),
            path: request.url.path().to_owned(),
            status: None,
            duration_ms: 0,
            request_body: request.body.as_ref().map(|body| redactor.json(body)),
            response_body: None,
            error: None,
        };

        let mut builder = match self.http.request(request.method, request.url) {
            Ok(builder) => builder,
            Err(refused) => {
                let error = ProviderError::from(refused);
                record.error = Some(error.to_string());
                self.calls.push(record);
                return Err(error);
            }
        };
        builder = builder
            .timeout(CALL_TIMEOUT)
            .header(reqwest::header::ACCEPT, "application/json");
        builder = request.auth.apply(builder);
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let started = Instant::now();
        let exchanged = async {
            let response = builder.send().await?;
            let status = response.status();
            let retry_after = retry_after(response.headers());
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, retry_after, bytes))
        }
        .await;
        record.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        match exchanged {
            Err(error) => {
                let error = ProviderError::transport(&error);
                record.error = Some(error.to_string());
                self.calls.push(record);
                Err(error)
            }
            Ok((status, retry_after, bytes)) => {
                record.status = Some(status.as_u16());
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                if !bytes.is_empty() {
                    record.response_body = Some(if body.is_null() {
                        redactor.text(&String::from_utf8_lossy(&bytes))
                    } else {
                        redactor.json(&body)
                    });
                }
                self.calls.push(record);
                Ok(Answer {
                    status,
                    retry_after,
                    body,
                })
            }
        }
    }

    /// The outcome of the operation; a failure is also written on the call that
    /// caused it (the last one), unless that call already says why it failed.
    pub(crate) fn finish<T>(mut self, result: Result<T, ProviderError>) -> Outcome<T> {
        if let Err(error) = &result {
            let redactor = self.redactor();
            if let Some(last) = self.calls.last_mut().filter(|last| last.error.is_none()) {
                last.error = Some(redactor.text(&error.to_string()));
            }
        }
        Outcome {
            result,
            calls: self.calls,
        }
    }

    fn redactor(&self) -> Redactor {
        Redactor::new(self.secrets.iter().map(String::as_str))
    }
}

/// `base_url` followed by `segments`, each percent-encoded as one path segment (ids
/// and phone numbers come from configuration, not from us).
pub(crate) fn endpoint(base_url: &str, segments: &[&str]) -> Result<Url, ProviderError> {
    let invalid = || ProviderError::Permanent {
        code: None,
        message: "the provider's base URL is not a valid http(s) URL: check the connection"
            .to_owned(),
    };
    let mut url = Url::parse(base_url.trim()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid());
    }
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|_| invalid())?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_base_path_and_encode_segments() {
        let url = endpoint(
            "https://gateway.lipachat.com/api/v1/",
            &["template", "+254 11"],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://gateway.lipachat.com/api/v1/template/+254%2011"
        );
        let url = endpoint("https://graph.facebook.com", &["v25.0", "123", "messages"]).unwrap();
        assert_eq!(url.path(), "/v25.0/123/messages");
        assert!(endpoint("not a url", &[]).is_err());
        assert!(endpoint("ftp://example.com", &[]).is_err());
    }

    #[tokio::test]
    async fn a_call_that_gets_no_answer_is_retryable_and_recorded() {
        // A port that was free a moment ago: nothing listens there now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = crate::egress::HttpClient::local();
        let mut log = CallLog::new(&http);
        let url = endpoint(&format!("http://127.0.0.1:{port}"), &["messages"]).unwrap();
        let result = log
            .call(Request::post(
                url,
                Auth::Bearer("secret-token-123"),
                serde_json::json!({"token": "secret-token-123", "to": "1"}),
            ))
            .await;
        let error = result.unwrap_err();
        assert!(
            matches!(error, ProviderError::Retryable { .. }),
            "{error:?}"
        );
        let outcome = log.finish::<()>(Err(error));
        let [record] = outcome.calls.as_slice() else {
            panic!("{:?}", outcome.calls)
        };
        assert_eq!(record.status, None);
        assert_eq!(record.path, "/messages");
        assert_eq!(
            record.error.as_deref(),
            Some("the provider could not be reached (retryable)")
        );
        assert!(!format!("{record:?}").contains("secret-token-123"));
    }

    #[tokio::test]
    async fn credentialed_calls_follow_no_redirect() {
        // Gemini's key is in `x-goog-api-key`, which reqwest's redirects would
        // carry to any host: an API call answers the 3xx as it is instead.
        let provider = crate::fake_provider::FakeProvider::start("").await;
        let elsewhere = crate::fake_provider::FakeProvider::start("").await;
        let location = format!("{}/collect", elsewhere.base_url);
        provider.answer_with("POST", "/v1/chat", 307, &[("location", &location)], "");
        let http = crate::egress::HttpClient::local();
        let mut log = CallLog::new(&http);
        let url = endpoint(&provider.base_url, &["v1", "chat"]).unwrap();
        let answer = log
            .call(Request::post(
                url,
                Auth::Header("x-goog-api-key", "gemini-key"),
                serde_json::json!({}),
            ))
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(provider.take_requests().len(), 1);
        assert!(elsewhere.take_requests().is_empty());
    }

    #[tokio::test]
    async fn calls_to_private_addresses_are_refused_unsent() {
        let provider = crate::fake_provider::FakeProvider::start("").await;
        let http = crate::egress::HttpClient::new(crate::egress::Egress::default()).unwrap();
        let mut log = CallLog::new(&http);
        let url = endpoint(&provider.base_url, &["messages"]).unwrap();
        let error = log
            .call(Request::get(url, Auth::Bearer("token")))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            ProviderError::Permanent {
                code: None,
                message: "the address is not allowed: wacrm reaches only public internet hosts"
                    .into()
            }
        );
        assert!(provider.take_requests().is_empty());
        let outcome = log.finish::<()>(Err(error));
        assert_eq!(outcome.calls.len(), 1);
    }
}
