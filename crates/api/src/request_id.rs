//! A request id for every request: taken from a sane `X-Request-Id` header or
//! made fresh, echoed in the response, recorded on the request's tracing span
//! and put in every problem body.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task ("-" outside a request).
pub fn current() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}

pub async fn middleware(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .headers()
        .get(&HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            !value.is_empty()
                && value.len() <= 64
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    // The route's pattern, never the path: Lipachat's and TATA's webhook
    // paths carry their secret token, and logs are read by many.
    let route = request.match_pattern();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        route = route.as_deref().unwrap_or("UNMATCHED"),
    );
    let started = Instant::now();
    let header_value = HeaderValue::from_str(&id).ok();
    let outcome = REQUEST_ID
        .scope(id, next.call(request))
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    match outcome {
        Ok(mut response) => {
            tracing::info!(
                status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "request finished"
            );
            if let Some(value) = header_value {
                response.headers_mut().insert(HEADER, value);
            }
            Ok(response)
        }
        Err(error) => {
            tracing::warn!(%error, "request failed");
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn a_webhook_token_in_the_path_never_reaches_the_logs() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(App::new().wrap(from_fn(middleware)).route(
            "/webhooks/{provider}/{connection_id}/{token}",
            web::post().to(HttpResponse::Ok),
        ))
        .await;
        for path in [
            "/webhooks/lipachat/0190b4a0-0000-7000-8000-000000000001/s3cret-url-token",
            "/elsewhere/s3cret-url-token",
        ] {
            let request = test::TestRequest::post().uri(path).to_request();
            test::call_service(&app, request).await;
        }
        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(
            logs.contains("/webhooks/{provider}/{connection_id}/{token}"),
            "{logs}"
        );
        assert!(logs.contains("UNMATCHED"), "{logs}");
        assert!(!logs.contains("s3cret-url-token"), "{logs}");
    }
}
