//! `GET /api/v1/stream`: Server-Sent Events for the inbox.

use std::sync::Arc;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use futures_util::stream;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use uuid::Uuid;
use wacrm_domain::Permission;

use crate::auth::{Principal, Visibility};
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    /// Set on every event about a conversation, with the conversation's
    /// assignee when the event was published (see `events::publish_all`).
    conversation_id: Option<Uuid>,
    assigned_to: Option<Uuid>,
}

/// Events as they happen: `message.created`, `message.status`,
/// `conversation.created`, `conversation.updated`, `conversation.assigned`,
/// `conversation.resolved`, `template.status`, `lead.created` (to holders of
/// `leads:view`), `endpoint.disabled` (an integrator's webhook endpoint that
/// wacrm turned off; to admins) and `import.progress` (a contact import's
/// counts and status, to holders of `whatsapp_contacts:view`). Each `data` is a small JSON object of ids
/// (with the conversation's `assigned_to` on conversation events); fetch
/// details through the REST API.
///
/// A caller sees the events of the conversations it may see (the inbox
/// visibility). A comment line every heartbeat (15 s) keeps proxies from
/// closing the stream; at each one the caller is checked again, and the stream
/// ends when its account was deactivated, its key revoked or its
/// `whatsapp_chat:view` permission taken away, and when its access token expires.
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
    let visibility = Visibility::of(&mut *state.conn().await?, &principal).await?;
    let mut heartbeat = tokio::time::interval(state.stream_heartbeat);
    heartbeat.reset();
    let watch = Watch {
        receiver: state.realtime.subscribe(),
        heartbeat,
        expiry: principal.expires_at.map(instant_of),
        principal,
        visibility,
        state,
    };
    let events = stream::unfold(watch, |mut watch| async move {
        let frame = watch.next_frame().await?;
        Some((Ok::<_, actix_web::Error>(web::Bytes::from(frame)), watch))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(events))
}

/// One open stream: what it relays, and to whom.
struct Watch {
    receiver: broadcast::Receiver<Arc<str>>,
    heartbeat: tokio::time::Interval,
    expiry: Option<Instant>,
    principal: Principal,
    visibility: Visibility,
    state: web::Data<AppState>,
}

impl Watch {
    /// The next frame to send, `None` to end the stream.
    async fn next_frame(&mut self) -> Option<String> {
        let expiry = self.expiry;
        let expired = async move {
            match expiry {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expired);
        loop {
            tokio::select! {
                event = self.receiver.recv() => match event {
                    Ok(payload) => {
                        if let Some(frame) = self.frame(&payload) {
                            return Some(frame);
                        }
                    }
                    // Too slow to keep up, or shutting down: end the stream.
                    Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
                },
                _ = self.heartbeat.tick() => {
                    self.recheck().await?;
                    return Some(": heartbeat\n\n".to_owned());
                }
                () = &mut expired => return None,
            }
        }
    }

    /// `payload` as an SSE frame, unless it is about a conversation the
    /// caller may not see.
    fn frame(&self, payload: &str) -> Option<String> {
        let visible = |head: &Head| {
            head.conversation_id.is_none() || self.visibility.allows(head.assigned_to)
        };
        match serde_json::from_str::<Head>(payload) {
            // Contact imports are not inbox events: they go to whoever may
            // see WhatsApp contacts.
            Ok(head) if head.kind.starts_with("import.") => self
                .principal
                .permissions
                .allows(Permission::WHATSAPP_CONTACTS_VIEW)
                .then(|| format!("event: {}\ndata: {payload}\n\n", head.kind)),
            // New leads go to whoever may see leads; webhook endpoints are
            // admin business.
            Ok(head) if head.kind.starts_with("lead.") => self
                .principal
                .permissions
                .allows(Permission::LEADS_VIEW)
                .then(|| format!("event: {}\ndata: {payload}\n\n", head.kind)),
            Ok(head) if head.kind.starts_with("endpoint.") => self
                .principal
                .permissions
                .allows(Permission::ADMIN)
                .then(|| format!("event: {}\ndata: {payload}\n\n", head.kind)),
            Ok(head) if visible(&head) => {
                Some(format!("event: {}\ndata: {payload}\n\n", head.kind))
            }
            Ok(_) => None,
            // Not one of ours (every event has a `type`): only a caller who sees
            // everything gets it.
            Err(_) => (self.visibility == Visibility::All)
                .then(|| format!("event: message\ndata: {payload}\n\n")),
        }
    }

    /// The caller as it stands now; `None` when it may no longer watch. A
    /// database error ends the stream too: the client reconnects and is
    /// checked afresh.
    async fn recheck(&mut self) -> Option<()> {
        let mut conn = self.state.conn().await.ok()?;
        let principal = self.principal.reload(&mut conn).await.ok()?;
        principal.require(Permission::WHATSAPP_CHAT_VIEW).ok()?;
        self.visibility = Visibility::of(&mut conn, &principal).await.ok()?;
        self.principal = principal;
        Some(())
    }
}

/// The tokio instant at which wall-clock `at` arrives (now, if it has).
fn instant_of(at: DateTime<Utc>) -> Instant {
    let left = (at - Utc::now()).to_std().unwrap_or_default();
    Instant::now() + left
}
