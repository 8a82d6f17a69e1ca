//! `GET /api/v1/stream`: Server-Sent Events for the inbox.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use futures_util::stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use wacrm_domain::Permission;

use crate::auth::Principal;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
}

/// Events as they happen: `message.created`, `message.status`,
/// `conversation.updated`, `template.status`. Each `data` is a small JSON
/// object of ids; fetch details through the REST API. A comment line every
/// 15 s keeps proxies from closing the stream.
#[utoipa::path(tag = "inbox", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, content_type = "text/event-stream", body = String),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/stream")]
pub async fn stream_events(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let receiver = state.realtime.subscribe();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.reset();
    let events = stream::unfold(
        (receiver, heartbeat),
        |(mut receiver, mut heartbeat)| async move {
            let frame = tokio::select! {
                event = receiver.recv() => match event {
                    Ok(payload) => {
                        let kind = serde_json::from_str::<Head>(&payload).map(|h| h.kind).unwrap_or_else(|_| "message".into());
                        format!("event: {kind}\ndata: {payload}\n\n")
                    }
                    // Too slow to keep up, or shutting down: end the stream.
                    Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
                },
                _ = heartbeat.tick() => ": heartbeat\n\n".to_owned(),
            };
            Some((
                Ok::<_, actix_web::Error>(web::Bytes::from(frame)),
                (receiver, heartbeat),
            ))
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(events))
}
