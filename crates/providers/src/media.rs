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
//! A link is chosen by whoever can post a webhook: so every hop goes through the
//! [`egress`](crate::egress) guard (public addresses only, checked after DNS
//! resolution), redirects are followed by hand and checked again, and credentials
//! go only to the origin they belong to, never to a link or a redirect that points
//! elsewhere.
//!
//! A download stops at WhatsApp's own size limit for the message's type, and its
//! failure is told in a few fixed sentences: the stored reason is shown to staff,
//! and a reason that named the address or how the connection failed would turn the
//! download into a port scanner.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use serde::Deserialize;
use url::{Origin, Url};
use wacrm_domain::Provider;
use wacrm_domain::connection::Credentials;
use wacrm_domain::inbound::{MediaSource, MessageKind};

use crate::egress::HttpClient;
use crate::error::{ProviderError, retry_after};

const TIMEOUT: Duration = Duration::from_secs(60);
/// Hops after the first request; a media host needs one or two at most.
const MAX_REDIRECTS: usize = 5;

const KB: usize = 1024;
const MB: usize = 1024 * 1024;

/// WhatsApp's largest media of `kind`, from Meta's "Supported media types"
/// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types,
/// mirrored in AWS End User Messaging's "Supported media file types and sizes in
/// WhatsApp"): audio and video 16 MB, images 5 MB, animated stickers 500 KB
/// (static ones 100 KB, indistinguishable before the download), documents
/// 100 MB. Anything else gets the document limit.
pub fn size_limit(kind: Option<MessageKind>) -> usize {
    match kind {
        Some(MessageKind::Image) => 5 * MB,
        Some(MessageKind::Audio | MessageKind::Video) => 16 * MB,
        Some(MessageKind::Sticker) => 500 * KB,
        _ => 100 * MB,
    }
}

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

/// Downloads `source`, at most `limit` bytes (see [`size_limit`]).
pub async fn fetch(
    http: &HttpClient,
    endpoint: &Endpoint<'_>,
    source: &MediaSource,
    limit: usize,
) -> Result<Downloaded, ProviderError> {
    match source {
        MediaSource::ProviderId(id) if endpoint.provider == Provider::Tata => {
            fetch_from_tata(http, endpoint, id, limit).await
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
            let info_url = crate::call::endpoint(endpoint.base_url, &[endpoint.graph_version, id])
                .map_err(|_| failed(Failure::Permanent))?;
            let credentials = Some((info_url.origin(), endpoint));
            let response = get(http, info_url, credentials, limit).await?;
            let info: MetaMediaInfo =
                serde_json::from_slice(&response.bytes).map_err(|_| failed(Failure::Permanent))?;
            // Meta's media URL lives on another host but wants the same token;
            // the token goes to that host only, not to where it may redirect.
            let media_url = Url::parse(&info.url).map_err(|_| failed(Failure::Permanent))?;
            let credentials = Some((media_url.origin(), endpoint));
            let downloaded = get(http, media_url, credentials, limit).await?;
            Ok(Downloaded {
                mime_type: downloaded.mime_type.or(info.mime_type),
                bytes: downloaded.bytes,
            })
        }
        MediaSource::Url(link) => {
            let link = Url::parse(link).map_err(|_| failed(Failure::Permanent))?;
            // The provider's own host gets its credentials; any other gets none.
            let credentials = Url::parse(endpoint.base_url.trim())
                .ok()
                .map(|base| base.origin())
                .filter(|base| *base == link.origin())
                .map(|base| (base, endpoint));
            get(http, link, credentials, limit).await
        }
    }
}

/// TATA's download endpoint answers where the bytes are, or the bytes.
async fn fetch_from_tata(
    http: &HttpClient,
    endpoint: &Endpoint<'_>,
    id: &str,
    limit: usize,
) -> Result<Downloaded, ProviderError> {
    let url = crate::call::endpoint(
        endpoint.base_url,
        &["whatsapp-cloud", "media", "download", id],
    )
    .map_err(|_| failed(Failure::Permanent))?;
    let tata = url.origin();
    let answer = get(http, url, Some((tata.clone(), endpoint)), limit).await?;
    let Ok(info) = serde_json::from_slice::<MetaMediaInfo>(&answer.bytes) else {
        return Ok(answer);
    };
    let media_url = Url::parse(&info.url).map_err(|_| failed(Failure::Permanent))?;
    // TATA's key goes to TATA's host only, not to a storage link elsewhere.
    let downloaded = get(http, media_url, Some((tata, endpoint)), limit).await?;
    Ok(Downloaded {
        mime_type: downloaded.mime_type.or(info.mime_type),
        bytes: downloaded.bytes,
    })
}

/// GETs `url`, following redirects by hand; `credentials` go with every hop
/// on their origin and with no other.
async fn get(
    http: &HttpClient,
    mut url: Url,
    credentials: Option<(Origin, &Endpoint<'_>)>,
    limit: usize,
) -> Result<Downloaded, ProviderError> {
    for _ in 0..=MAX_REDIRECTS {
        let mut request = http
            .request(Method::GET, url.clone())
            .map_err(|_| failed(Failure::Permanent))?
            .timeout(TIMEOUT);
        let authorized = match &credentials {
            Some((origin, endpoint)) if *origin == url.origin() => {
                request = authorize(request, endpoint);
                true
            }
            _ => false,
        };
        let response = request.send().await.map_err(|error| {
            failed(match ProviderError::transport(&error) {
                ProviderError::Retryable { .. } => Failure::Retryable(None),
                _ => Failure::Permanent,
            })
        })?;
        let status = response.status();
        if status.is_redirection() {
            url = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|location| location.to_str().ok())
                .and_then(|location| url.join(location).ok())
                .ok_or_else(|| failed(Failure::Permanent))?;
            continue;
        }
        if !status.is_success() {
            return Err(failed(
                match ProviderError::from_status(status, retry_after(response.headers())) {
                    ProviderError::Retryable { retry_after, .. } => Failure::Retryable(retry_after),
                    // A refusal from a host we sent no credentials to says
                    // nothing about our credentials.
                    ProviderError::Auth { .. } if authorized => Failure::Auth,
                    _ => Failure::Permanent,
                },
            ));
        }
        return read(response, limit).await;
    }
    Err(failed(Failure::Permanent))
}

fn authorize(request: reqwest::RequestBuilder, endpoint: &Endpoint<'_>) -> reqwest::RequestBuilder {
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

/// The body, refused as soon as it is known to exceed `limit`.
async fn read(mut response: reqwest::Response, limit: usize) -> Result<Downloaded, ProviderError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large(limit));
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
        .map_err(|_| failed(Failure::Retryable(None)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Downloaded {
        bytes: Bytes::from(body),
        mime_type,
    })
}

/// The only things a failed download says about why.
enum Failure {
    Retryable(Option<Duration>),
    Permanent,
    Auth,
}

fn failed(failure: Failure) -> ProviderError {
    match failure {
        Failure::Retryable(retry_after) => ProviderError::Retryable {
            code: None,
            message: "the media could not be downloaded yet".into(),
            retry_after,
        },
        Failure::Permanent => ProviderError::Permanent {
            code: None,
            message: "the media could not be downloaded".into(),
        },
        Failure::Auth => ProviderError::Auth {
            code: None,
            message: "the provider refused our credentials for the media".into(),
        },
    }
}

fn too_large(limit: usize) -> ProviderError {
    let limit = if limit >= MB {
        format!("{} MB", limit / MB)
    } else {
        format!("{} KB", limit / KB)
    };
    ProviderError::Permanent {
        code: None,
        message: format!("the media is larger than WhatsApp allows for its type ({limit})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::Egress;
    use crate::fake_provider::FakeProvider;

    fn lipachat<'a>(base_url: &'a str, credentials: &'a Credentials) -> Endpoint<'a> {
        Endpoint {
            provider: Provider::Lipachat,
            base_url,
            graph_version: "v25.0",
            credentials,
        }
    }

    fn key() -> Credentials {
        Credentials {
            api_key: Some("lipa-secret-key".into()),
            ..Credentials::default()
        }
    }

    #[tokio::test]
    async fn a_redirect_to_another_host_carries_no_credentials() {
        // Lipachat's key travels in an `apiKey` header, which reqwest's own
        // redirect handling would have forwarded to any host.
        let provider = FakeProvider::start("").await;
        let elsewhere = FakeProvider::start("").await;
        let target = format!("{}/stolen.jpg", elsewhere.base_url);
        provider.answer_with("GET", "/media/1.jpg", 302, &[("location", &target)], "");
        elsewhere.answer_with(
            "GET",
            "/stolen.jpg",
            200,
            &[("content-type", "image/jpeg")],
            "jpeg",
        );
        let credentials = key();
        let endpoint = lipachat(&provider.base_url, &credentials);
        let link = MediaSource::Url(format!("{}/media/1.jpg", provider.base_url));

        let downloaded = fetch(&HttpClient::local(), &endpoint, &link, 5 * MB)
            .await
            .unwrap();

        assert_eq!(downloaded.bytes.as_ref(), b"jpeg");
        let first = provider.take_requests();
        assert_eq!(first[0].header("apikey"), Some("lipa-secret-key"));
        let second = elsewhere.take_requests();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].header("apikey"), None, "{:?}", second[0].headers);
        assert_eq!(second[0].header("authorization"), None);
    }

    #[tokio::test]
    async fn links_to_private_addresses_are_never_requested() {
        let provider = FakeProvider::start("").await;
        provider.answer_with("GET", "/media/1.jpg", 200, &[], "jpeg");
        let strict = HttpClient::new(Egress::default()).unwrap();
        let port = Url::parse(&provider.base_url).unwrap().port().unwrap();
        let credentials = key();
        let endpoint = lipachat("https://gateway.lipachat.com/api/v1", &credentials);
        for link in [
            format!("{}/media/1.jpg", provider.base_url),
            format!("http://localhost:{port}/media/1.jpg"),
            "http://169.254.169.254/latest/meta-data/iam/".to_owned(),
            "http://[::ffff:10.0.0.3]:22/".to_owned(),
        ] {
            let error = fetch(&strict, &endpoint, &MediaSource::Url(link.clone()), 5 * MB)
                .await
                .err()
                .unwrap();
            assert_eq!(
                error.to_string(),
                "the media could not be downloaded",
                "{link}"
            );
        }
        assert!(provider.take_requests().is_empty());
    }

    #[tokio::test]
    async fn failures_say_nothing_about_the_address_or_port() {
        // A port nothing listens on: the old text said how the connection failed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let credentials = key();
        let endpoint = lipachat("https://gateway.lipachat.com/api/v1", &credentials);
        let link = MediaSource::Url(format!("http://127.0.0.1:{port}/x"));
        let error = fetch(&HttpClient::local(), &endpoint, &link, MB)
            .await
            .err()
            .unwrap();
        let text = error.to_string();
        assert_eq!(text, "the media could not be downloaded yet (retryable)");
        assert!(!text.contains(&port.to_string()));
    }

    #[tokio::test]
    async fn media_larger_than_whatsapp_allows_for_its_type_is_refused() {
        let provider = FakeProvider::start("").await;
        let six_mb = "x".repeat(6 * MB);
        provider.answer_with("GET", "/big.jpg", 200, &[], &six_mb);
        provider.answer_with("GET", "/big.mp4", 200, &[], &six_mb);
        let credentials = key();
        let endpoint = lipachat(&provider.base_url, &credentials);
        let http = HttpClient::local();
        let image = MediaSource::Url(format!("{}/big.jpg", provider.base_url));
        let error = fetch(
            &http,
            &endpoint,
            &image,
            size_limit(Some(MessageKind::Image)),
        )
        .await
        .err()
        .unwrap();
        assert_eq!(
            error.to_string(),
            "the media is larger than WhatsApp allows for its type (5 MB)"
        );
        let video = MediaSource::Url(format!("{}/big.mp4", provider.base_url));
        let downloaded = fetch(
            &http,
            &endpoint,
            &video,
            size_limit(Some(MessageKind::Video)),
        )
        .await
        .unwrap();
        assert_eq!(downloaded.bytes.len(), 6 * MB);
        assert_eq!(size_limit(Some(MessageKind::Sticker)), 500 * KB);
        assert_eq!(size_limit(Some(MessageKind::Document)), 100 * MB);
        assert_eq!(size_limit(Some(MessageKind::Audio)), 16 * MB);
    }
}
