//! Downloads the media of inbound messages.
//!
//! Meta hands out a media id: `GET /{version}/{id}` (bearer token) answers a
//! short-lived URL, fetched with the same token. The other providers send a
//! link. Credentials go only to the provider's own host, never to a link
//! that points elsewhere.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use wacrm_domain::Provider;
use wacrm_domain::connection::Credentials;
use wacrm_domain::inbound::MediaSource;

use crate::error::{ProviderError, retry_after};

/// Largest media accepted (WhatsApp's own limit for documents is 100 MB).
pub const MAX_MEDIA_BYTES: usize = 100 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Downloaded {
    pub bytes: Bytes,
    pub mime_type: Option<String>,
}

/// Where to reach the provider and with what.
pub struct Endpoint<'a> {
    pub provider: Provider,
    pub base_url: &'a str,
    pub graph_version: &'a str,
    pub credentials: &'a Credentials,
}

#[derive(Deserialize)]
struct MetaMediaInfo {
    url: String,
    mime_type: Option<String>,
}

pub async fn fetch(
    http: &reqwest::Client,
    endpoint: &Endpoint<'_>,
    source: &MediaSource,
) -> Result<Downloaded, ProviderError> {
    match source {
        MediaSource::ProviderId(id) => {
            let info_url = format!(
                "{}/{}/{}",
                endpoint.base_url.trim_end_matches('/'),
                endpoint.graph_version,
                id
            );
            let info: MetaMediaInfo = send(authorized(http.get(&info_url), endpoint))
                .await?
                .json()
                .await
                .map_err(|_| ProviderError::Permanent {
                    code: None,
                    message: "the media info is not the expected JSON".into(),
                })?;
            // Meta's media URL lives on another host but wants the same token.
            let downloaded = download(authorized(http.get(&info.url), endpoint)).await?;
            Ok(Downloaded {
                mime_type: downloaded.mime_type.or(info.mime_type),
                bytes: downloaded.bytes,
            })
        }
        MediaSource::Url(link) => {
            let request = http.get(link);
            let request = if same_origin(link, endpoint.base_url) {
                authorized(request, endpoint)
            } else {
                request
            };
            download(request).await
        }
    }
}

fn authorized(
    request: reqwest::RequestBuilder,
    endpoint: &Endpoint<'_>,
) -> reqwest::RequestBuilder {
    let credentials = endpoint.credentials;
    match endpoint.provider {
        Provider::Meta => {
            request.bearer_auth(credentials.access_token.as_deref().unwrap_or_default())
        }
        Provider::Whats91 => {
            request.bearer_auth(credentials.api_key.as_deref().unwrap_or_default())
        }
        Provider::Lipachat => {
            request.header("apiKey", credentials.api_key.as_deref().unwrap_or_default())
        }
        Provider::Tata => request.header(
            "Authorization",
            credentials.api_key.as_deref().unwrap_or_default(),
        ),
    }
}

fn same_origin(link: &str, base: &str) -> bool {
    match (url::Url::parse(link), url::Url::parse(base)) {
        (Ok(link), Ok(base)) => link.origin() == base.origin(),
        _ => false,
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, ProviderError> {
    let response = request
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(|error| ProviderError::transport(&error))?;
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(ProviderError::from_status(
            response.status(),
            retry_after(response.headers()),
        ))
    }
}

async fn download(request: reqwest::RequestBuilder) -> Result<Downloaded, ProviderError> {
    let mut response = send(request).await?;
    if response
        .content_length()
        .is_some_and(|length| length > MAX_MEDIA_BYTES as u64)
    {
        return Err(too_large());
    }
    let mime_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| ProviderError::transport(&error))?
    {
        if body.len() + chunk.len() > MAX_MEDIA_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Downloaded {
        bytes: Bytes::from(body),
        mime_type,
    })
}

fn too_large() -> ProviderError {
    ProviderError::Permanent {
        code: None,
        message: format!("the media is larger than {MAX_MEDIA_BYTES} bytes"),
    }
}
