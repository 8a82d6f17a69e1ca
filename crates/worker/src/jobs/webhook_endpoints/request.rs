//! One delivery attempt over HTTP: the signed POST, and what came back,
//! reduced to what may be stored and shown to an admin. The request waits
//! 15 s at most, follows no redirect, reads at most 1 KiB of the answer, and
//! a failure without an answer is one of a few fixed sentences: the address,
//! the resolver's words or a socket error never reach the API.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use url::Url;
use wacrm_domain::webhook_endpoints::EndpointSecret;
use wacrm_providers::egress::{HttpClient, was_refused};

use super::signature;

/// A receiver has this long to answer (Standard Webhooks suggests 15 s).
pub const TIMEOUT_SECS: i64 = 15;
const TIMEOUT: Duration = Duration::from_secs(TIMEOUT_SECS as u64);
/// The part of an answer kept for the admin looking into a failure.
const MAX_RESPONSE_BYTES: usize = 1024;

/// Where and how to deliver.
pub struct Target<'a> {
    pub client: &'a HttpClient,
    pub url: &'a str,
    pub secrets: &'a [EndpointSecret],
}

/// What one attempt gave.
#[derive(Debug, Clone)]
pub struct Answer {
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub status: Option<u16>,
    pub retry_after: Option<chrono::Duration>,
    /// A fixed sentence when no acceptable answer came.
    pub error: Option<String>,
    pub body: Option<String>,
}

/// POSTs `body` as delivery `id`, signed with every secret of the target.
/// `attempted_at` is the application's clock (what the API shows); the
/// `webhook-timestamp` is the wall clock's, which receivers check against theirs.
pub async fn send(
    target: &Target<'_>,
    id: &str,
    body: Vec<u8>,
    attempted_at: DateTime<Utc>,
) -> Answer {
    let started = Instant::now();
    let outcome = exchange(target, id, body).await;
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    match outcome {
        Ok((status, retry_after, body)) => Answer {
            attempted_at,
            duration_ms,
            status: Some(status),
            retry_after,
            error: match status {
                200..=299 => None,
                300..=399 => Some("the receiver answered a redirect, which is not followed".into()),
                _ => Some(format!("the receiver answered HTTP {status}")),
            },
            body,
        },
        Err(error) => Answer {
            attempted_at,
            duration_ms,
            status: None,
            retry_after: None,
            error: Some(error.into()),
            body: None,
        },
    }
}

type Exchanged = (u16, Option<chrono::Duration>, Option<String>);

async fn exchange(target: &Target<'_>, id: &str, body: Vec<u8>) -> Result<Exchanged, &'static str> {
    let url = Url::parse(target.url).map_err(|_| "the endpoint's URL is not valid")?;
    let timestamp = Utc::now().timestamp();
    let signature = signature::header(target.secrets, id, timestamp, &body);
    let request = target
        .client
        .request(reqwest::Method::POST, url)
        .map_err(|_| REFUSED)?
        .timeout(TIMEOUT)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body);
    let mut response = request.send().await.map_err(|error| describe(&error))?;
    let status = response.status().as_u16();
    let retry_after = wacrm_providers::error::retry_after(response.headers())
        .and_then(|wait| chrono::Duration::from_std(wait).ok());
    let mut kept: Vec<u8> = Vec::new();
    // The rest of a long answer is not read: the connection is dropped.
    while kept.len() < MAX_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    kept.truncate(MAX_RESPONSE_BYTES);
    let body = (!kept.is_empty()).then(|| String::from_utf8_lossy(&kept).into_owned());
    Ok((status, retry_after, body))
}

const REFUSED: &str = "the endpoint's address is not allowed: only public internet hosts, unless an admin allows private targets for it";

fn describe(error: &reqwest::Error) -> &'static str {
    if was_refused(error) {
        REFUSED
    } else if error.is_timeout() {
        "no answer within 15 seconds"
    } else if error.is_connect() {
        "could not connect to the endpoint"
    } else {
        "the request failed before an answer came"
    }
}
