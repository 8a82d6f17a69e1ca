//! Applies parsed webhook events to the inbox: identifies the sender, keeps
//! one conversation per number and customer, stores messages once, moves the
//! session window and statuses forward only, and gathers the real-time events
//! to publish. Every rule comes from the domain crate; this module only reads
//! and writes.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;
use wacrm_domain::bots::Event;
use wacrm_domain::conversation::ConversationStatus;
use wacrm_domain::inbound::{
    InboundMessage, NumberRef, StatusChange, StatusUpdate, TemplateStatusUpdate,
};
use wacrm_domain::matching::{identify, phone_variants};
use wacrm_domain::settings::{AutoLeadSettings, InboundSettings};
use wacrm_domain::{MessageStatus, NormalizedPhone, RelType, session};
use wacrm_persistence::connections::Connection;
use wacrm_persistence::conversations::{self, ConversationChanges};
use wacrm_persistence::messages::{self, NewMedia, NewMessage, StatusEvent};
use wacrm_persistence::numbers::{self, Number};
use wacrm_persistence::{AsyncPgConnection, StoreResult, leads, matching, settings, templates};

use crate::jobs::RunBots;

/// Settings that shape how inbound messages are applied.
#[derive(Debug, Clone, Default)]
pub struct InboundRules {
    pub auto_lead: AutoLeadSettings,
    pub inbound: InboundSettings,
}

impl InboundRules {
    pub async fn load(conn: &mut AsyncPgConnection) -> StoreResult<Self> {
        Ok(Self {
            auto_lead: settings::load(conn, AutoLeadSettings::KEY).await?,
            inbound: settings::load(conn, InboundSettings::KEY).await?,
        })
    }
}

/// What one transaction of webhook events shares: the rules, read once; the
/// business numbers already looked up; and the real-time events to publish,
/// all at once, before it commits ([`wacrm_persistence::events::publish_all`]).
#[derive(Debug, Default)]
pub struct Batch {
    pub rules: InboundRules,
    numbers: HashMap<(Uuid, NumberRef), Number>,
    pub announcements: Vec<serde_json::Value>,
}

impl Batch {
    pub fn new(rules: InboundRules) -> Self {
        Self {
            rules,
            ..Self::default()
        }
    }
}

/// What applying one message did.
#[derive(Debug)]
pub enum MessageOutcome {
    /// Stored; `media` when its bytes still have to be fetched. `bots` is the
    /// event the bots are to consider.
    Stored {
        message_id: Uuid,
        media: bool,
        bots: Box<RunBots>,
    },
    /// A second delivery of a message we have: nothing changed.
    Duplicate,
}

/// Why an event could not be applied (the webhook is marked failed with it).
pub type Rejection = String;

pub async fn resolve_number(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    connection: &Connection,
    number: &NumberRef,
) -> StoreResult<Result<Number, Rejection>> {
    let key = (connection.id, number.clone());
    if let Some(known) = batch.numbers.get(&key) {
        return Ok(Ok(known.clone()));
    }
    let found = match number {
        NumberRef::ProviderId(id) => numbers::find_by_provider_id(conn, connection.id, id).await?,
        NumberRef::Phone(phone) => match NormalizedPhone::parse(phone, None) {
            Ok(digits) => numbers::find_by_phone(conn, connection.id, digits.as_str()).await?,
            Err(_) => None,
        },
        NumberRef::Default => numbers::find_default(conn, connection.id).await?,
    };
    if let Some(number) = &found {
        batch.numbers.insert(key, number.clone());
    }
    Ok(found.ok_or_else(|| format!("no business number of this connection matches {number:?}")))
}

pub async fn apply_message(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    connection: &Connection,
    message: InboundMessage,
) -> StoreResult<Result<MessageOutcome, Rejection>> {
    let number = match resolve_number(conn, batch, connection, &message.number).await? {
        Ok(number) => number,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let Ok(customer) = NormalizedPhone::parse(&message.from, None) else {
        return Ok(Err(format!(
            "the sender `{}` is not a phone number",
            message.from
        )));
    };
    let conversation = conversations::lock_or_create(conn, number.id, customer.as_str()).await?;
    let stored = messages::insert_unless_known(
        conn,
        NewMessage {
            id: Uuid::now_v7(),
            conversation_id: conversation.id,
            direction: "inbound".into(),
            kind: message.kind.as_str().into(),
            body: message.body.clone(),
            payload: message.payload,
            provider: connection.provider.as_str().into(),
            provider_message_id: Some(message.provider_message_id),
            status: "received".into(),
            sent_by: None,
            sent_at: message.sent_at,
            context_message_id: message.context_message_id,
        },
    )
    .await?;
    let Some(stored) = stored else {
        return Ok(Ok(MessageOutcome::Duplicate));
    };
    if let Some(media) = &message.media {
        messages::insert_media(
            conn,
            NewMedia {
                message_id: stored.id,
                source: serde_json::to_value(&media.source).unwrap_or_default(),
                mime_type: media.mime_type.clone(),
                filename: media.filename.clone(),
                sha256: media.sha256.clone(),
            },
        )
        .await?;
    }

    let (rel_type, rel_id) = identify_sender(
        conn,
        &batch.rules,
        &customer,
        message.profile_name.as_deref(),
    )
    .await?;
    if rel_type == RelType::Lead && batch.rules.inbound.lead_notes {
        if let Some(lead_id) = rel_id {
            leads::add_note(
                conn,
                leads::NewLeadNote {
                    id: Uuid::now_v7(),
                    lead_id,
                    body: format!("WhatsApp message: {}", message.body),
                    created_by: None,
                },
            )
            .await?;
        }
    }

    let newest = conversation
        .last_message_at
        .is_none_or(|last| message.sent_at >= last);
    let status =
        ConversationStatus::parse(&conversation.status).unwrap_or(ConversationStatus::Open);
    let mut changes = ConversationChanges {
        rel_type: Some(rel_type.as_str().into()),
        rel_id: Some(rel_id),
        status: Some(status.after_inbound().as_str().into()),
        unread_count: Some(conversation.unread_count.saturating_add(1)),
        session_expires_at: Some(Some(session::expiry_after_inbound(
            conversation.session_expires_at,
            message.sent_at,
        ))),
        ..Default::default()
    };
    if let Some(name) = message.profile_name {
        changes.profile_name = Some(Some(name));
    }
    if newest {
        changes.last_message_id = Some(Some(stored.id));
        changes.last_message_at = Some(Some(message.sent_at));
        changes.last_message_preview = Some(Some(preview(&message.body)));
    }
    if status != status.after_inbound() {
        changes.snooze_until = Some(None);
    }
    conversations::update(conn, conversation.id, changes).await?;
    batch.announcements.push(
        json!({"type": "message.created", "message_id": stored.id, "conversation_id": conversation.id}),
    );
    batch
        .announcements
        .push(json!({"type": "conversation.updated", "conversation_id": conversation.id}));
    let bots = RunBots {
        conversation_id: conversation.id,
        message_id: Some(stored.id),
        event: Event::Inbound {
            text: message.body,
            at: message.sent_at,
            from_staff: rel_type == RelType::Staff,
        },
    };
    Ok(Ok(MessageOutcome::Stored {
        message_id: stored.id,
        media: message.media.is_some(),
        bots: Box::new(bots),
    }))
}

/// Lead, contact or staff by phone (with its country variants); an unknown
/// sender becomes a lead when auto-lead is on.
async fn identify_sender(
    conn: &mut AsyncPgConnection,
    rules: &InboundRules,
    phone: &NormalizedPhone,
    profile_name: Option<&str>,
) -> StoreResult<(RelType, Option<Uuid>)> {
    let found = matching::candidates(conn, &phone_variants(phone.as_str())).await?;
    let (rel_type, rel_id) = identify(found);
    if rel_type != RelType::General || !rules.auto_lead.enabled {
        return Ok((rel_type, rel_id));
    }
    let settings = &rules.auto_lead;
    let lead = leads::insert(
        conn,
        leads::NewLead {
            id: Uuid::now_v7(),
            name: profile_name
                .filter(|name| !name.trim().is_empty())
                .unwrap_or(phone.as_str())
                .to_owned(),
            phone: Some(format!("+{phone}")),
            phone_normalized: Some(phone.as_str().to_owned()),
            email: None,
            status_id: settings.status_id,
            source_id: settings.source_id,
            assigned_staff_id: settings.assigned_staff_id,
        },
    )
    .await?;
    tracing::info!(lead_id = %lead.id, "auto-lead created for an unknown sender");
    Ok((RelType::Lead, Some(lead.id)))
}

fn preview(body: &str) -> String {
    const MAX: usize = 120;
    let mut preview: String = body.chars().take(MAX).collect();
    if body.chars().count() > MAX {
        preview.push('…');
    }
    preview
}

/// Records the report; moves the message's status only forward.
pub async fn apply_status(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    connection: &Connection,
    update: StatusUpdate,
) -> StoreResult<()> {
    let provider = connection.provider.as_str();
    let message =
        messages::lock_by_provider_id(conn, provider, &update.provider_message_id).await?;
    let reported = match update.status {
        StatusChange::To(status) => Some(status),
        StatusChange::Deleted => None,
    };
    let applied = match (&message, reported) {
        (Some(message), Some(next)) => {
            MessageStatus::parse(&message.status).is_some_and(|current| current.advances_to(next))
        }
        _ => false,
    };
    let errors = serde_json::to_value(&update.errors).unwrap_or_default();
    let recorded = messages::record_status_event(
        conn,
        StatusEvent {
            id: Uuid::now_v7(),
            message_id: message.as_ref().map(|m| m.id),
            provider: provider.into(),
            provider_message_id: update.provider_message_id.clone(),
            status: reported.map_or("deleted", MessageStatus::as_str).into(),
            occurred_at: update.at,
            applied,
            errors,
            billing: update.billing,
            created_at: Utc::now(),
        },
    )
    .await?;
    let (Some(message), Some(next), true, true) = (message, reported, applied, recorded) else {
        return Ok(());
    };
    let error = (next == MessageStatus::Failed).then(|| {
        let first = update.errors.first();
        json!({
            "code": "delivery_failed",
            "title": first.map_or("The provider could not deliver the message", |e| e.title.as_str()),
            "detail": first.and_then(|e| e.detail.clone()),
            "provider_code": first.map(|e| e.code.clone()),
        })
    });
    messages::set_status(conn, message.id, next.as_str(), error).await?;
    batch.announcements.push(
        json!({"type": "message.status", "message_id": message.id, "conversation_id": message.conversation_id, "status": next.as_str()}),
    );
    Ok(())
}

/// Updates the template's status (by name, and language when given) and announces it.
pub async fn apply_template_status(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    connection: &Connection,
    update: TemplateStatusUpdate,
) -> StoreResult<()> {
    let status = serde_json::to_value(update.status)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default();
    templates::set_status(
        conn,
        connection.id,
        &update.name,
        update.language.as_deref(),
        &status,
        update.reason.as_deref(),
    )
    .await?;
    batch.announcements.push(json!({
        "type": "template.status",
        "connection_id": connection.id,
        "name": update.name,
        "language": update.language,
        "status": update.status,
        "reason": update.reason,
    }));
    Ok(())
}
