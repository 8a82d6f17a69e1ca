//! Downloads the media of inbound messages, from where each provider documents it.
//!
//! - Meta hands out a media id: `GET /{version}/{id}` (bearer token) answers a
//!   short-lived URL, fetched with the same token
//!   (developers.facebook.com/docs/whatsapp/cloud-api/reference/media).
//! - TATA relays Meta's message with TATA's own media id: `GET
//!   /whatsapp-cloud/media/download/{id}` on TATA's host with its raw key
//!   (`Authorization: {api_key}`) answers `{url, mime_type}`, and the URL is
//!   fetched as a plain link; an answer that is not that JSON is taken for the
//!   bytes themselves. TATA does not document it: this is what public Omni
//!   integrations call (e.g. an Odoo module, `haboo_tata_whatsapp_integration`).
//! - Lipachat and Whats91 send a link; they document no download by id, so an id
//!   without a link cannot be fetched (rather than asking their host for Meta's path).
//!
//! Credentials go only to the provider's own host, never to a link that points
//! elsewhere.

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
        MediaSource::ProviderId(id) if endpoint.provider == Provider::Tata => {
            fetch_from_tata(http, endpoint, id).await
        }
        MediaSource::ProviderId(_) if endpoint.provider != Provider::Meta => {
            Err(ProviderError::Permanent {
                code: None,
                message: format!(
                    "{} sent a media id without a link, and documents no way to download one",
                    crate::failure::name(endpoint.provider)
                ),
            })
        }
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

/// TATA's download endpoint answers where the bytes are, or the bytes.
async fn fetch_from_tata(
    http: &reqwest::Client,
    endpoint: &Endpoint<'_>,
    id: &str,
) -> Result<Downloaded, ProviderError> {
    let url = crate::call::endpoint(
        endpoint.base_url,
        &["whatsapp-cloud", "media", "download", id],
    )?;
    let answer = download(authorized(http.get(url), endpoint)).await?;
    let Ok(info) = serde_json::from_slice::<MetaMediaInfo>(&answer.bytes) else {
        return Ok(answer);
    };
    let request = http.get(&info.url);
    let request = if same_origin(&info.url, endpoint.base_url) {
        authorized(request, endpoint)
    } else {
        request
    };
    let downloaded = download(request).await?;
    Ok(Downloaded {
        mime_type: downloaded.mime_type.or(info.mime_type),
        bytes: downloaded.bytes,
    })
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
