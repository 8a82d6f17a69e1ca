//! Applies parsed webhook events to the inbox: identifies the sender, keeps
//! one conversation per number and customer (by phone, Meta's business-scoped
//! user id, or both), stores messages once, moves the
//! session window and statuses forward only, and gathers the real-time events
//! to publish. Every rule comes from the domain crate; this module only reads
//! and writes.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use uuid::Uuid;
use wacrm_domain::bots::Event;
use wacrm_domain::consent::{ConsentSettings, MarketingState};
use wacrm_domain::conversation::ConversationStatus;
use wacrm_domain::inbound::{
    CustomerChange, CustomerRef, InboundMessage, MessageKind, NumberRef, StatusUpdate, TemplateRef,
    TemplateStatusUpdate,
};
use wacrm_domain::matching::{identify, phone_variants};
use wacrm_domain::settings::{AutoLeadSettings, InboundSettings};
use wacrm_domain::{NormalizedPhone, RelType, session};
use wacrm_persistence::connections::Connection;
use wacrm_persistence::conversations::{self, Conversation, CustomerKey};
use wacrm_persistence::messages::{self, NewMedia, NewMessage};
use wacrm_persistence::numbers::{self, Number};
use wacrm_persistence::{
    AsyncPgConnection, StoreError, StoreResult, consent, leads, matching, settings, templates,
};

use crate::jobs::BotEvent;

/// Settings that shape how inbound messages are applied.
#[derive(Debug, Clone, Default)]
pub struct InboundRules {
    pub auto_lead: AutoLeadSettings,
    pub inbound: InboundSettings,
    pub consent: ConsentSettings,
}

impl InboundRules {
    pub async fn load(conn: &mut AsyncPgConnection) -> StoreResult<Self> {
        Ok(Self {
            auto_lead: settings::load(conn, AutoLeadSettings::KEY).await?,
            inbound: settings::load(conn, InboundSettings::KEY).await?,
            consent: settings::load(conn, ConsentSettings::KEY).await?,
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
    /// A message stored in a conversation: clients add it, and refresh the
    /// conversation. `direction` (`inbound`, or `outbound` for a Business app
    /// echo) tells integrators' webhooks a received message from our own.
    pub fn announce_new_message(
        &mut self,
        message_id: Uuid,
        conversation_id: Uuid,
        direction: &str,
    ) {
        self.announcements.push(json!({"type": "message.created",
            "message_id": message_id, "conversation_id": conversation_id, "direction": direction}));
        self.announcements
            .push(json!({"type": "conversation.updated", "conversation_id": conversation_id}));
    }

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
    /// event the bots are to consider. `keyword`: the message was a stop or
    /// start word and moved the customer's consent to this state (the consent
    /// reply answers it, not the bots).
    Stored {
        message_id: Uuid,
        media: bool,
        bots: BotEvent,
        keyword: Option<MarketingState>,
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

/// Applies inbound messages, in order, each from the connection paired with it;
/// answers one outcome per message, in the same order.
///
/// Every step is one statement for the whole batch (conversations created and
/// locked, messages stored, senders identified, lead notes, conversations
/// updated), so a batch of webhooks costs a handful of round trips rather than
/// several per message. The result is what applying the messages one after the
/// other would give.
pub async fn apply_messages(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    incoming: Vec<(&Connection, InboundMessage)>,
) -> StoreResult<Vec<Result<MessageOutcome, Rejection>>> {
    // Where each message goes: its number and its customer.
    let mut outcomes: Vec<Result<MessageOutcome, Rejection>> = Vec::with_capacity(incoming.len());
    let mut routed = Vec::new();
    for (index, (connection, message)) in incoming.into_iter().enumerate() {
        outcomes.push(Ok(MessageOutcome::Duplicate));
        let number = match resolve_number(conn, batch, connection, &message.number).await? {
            Ok(number) => number,
            Err(rejection) => {
                outcomes[index] = Err(rejection);
                continue;
            }
        };
        let customer = match customer_key(number.id, &message.from) {
            Ok(customer) => customer,
            Err(rejection) => {
                outcomes[index] = Err(rejection);
                continue;
            }
        };
        routed.push((index, connection.provider, customer, message));
    }

    let keys: Vec<CustomerKey> = routed
        .iter()
        .map(|(_, _, customer, _)| customer.clone())
        .collect();
    let conversations::Locked {
        rows: mut conversations,
        of_key,
    } = conversations::lock_or_create_many(conn, &keys).await?;

    // Store them; a provider's second delivery inserts nothing.
    let mut drafts = Vec::with_capacity(routed.len());
    for (_, provider, customer, message) in &routed {
        let conversation_id = *of_key.get(customer).ok_or(StoreError::NotFound)?;
        drafts.push(NewMessage {
            id: Uuid::now_v7(),
            conversation_id,
            direction: "inbound".into(),
            kind: message.kind.as_str().into(),
            body: message.body.clone(),
            payload: message.payload.clone(),
            provider: provider.as_str().into(),
            provider_message_id: Some(message.provider_message_id.clone()),
            status: "received".into(),
            sent_by: None,
            sent_at: message.sent_at,
            context_message_id: message.context_message_id.clone(),
        });
    }
    let draft_ids: Vec<Uuid> = drafts.iter().map(|draft| draft.id).collect();
    let stored: HashSet<Uuid> = messages::insert_many_unless_known(conn, drafts)
        .await?
        .into_iter()
        .map(|message| message.id)
        .collect();
    let stored: Vec<_> = routed
        .into_iter()
        .zip(draft_ids)
        .filter(|(_, id)| stored.contains(id))
        .collect();
    for ((_, _, _, message), id) in &stored {
        if let Some(media) = &message.media {
            messages::insert_media(
                conn,
                NewMedia {
                    message_id: *id,
                    source: serde_json::to_value(&media.source).unwrap_or_default(),
                    mime_type: media.mime_type.clone(),
                    filename: media.filename.clone(),
                    sha256: media.sha256.clone(),
                },
            )
            .await?;
        }
    }

    // Who wrote: once per customer, with the first profile name given. The
    // conversation's phone, which a message by user id alone may lack; a
    // customer with no known phone is `general`.
    let phone_of = |customer: &CustomerKey| {
        of_key
            .get(customer)
            .and_then(|id| conversations.get(id))
            .and_then(|conversation| conversation.customer_phone.as_deref())
            .and_then(|phone| NormalizedPhone::parse(phone, None).ok())
    };
    let mut senders: Vec<(NormalizedPhone, Option<String>)> = Vec::new();
    let mut seen = HashSet::new();
    for ((_, _, customer, message), _) in &stored {
        if let Some(phone) = phone_of(customer) {
            if seen.insert(phone.clone()) {
                senders.push((phone, message.profile_name.clone()));
            }
        }
    }
    let identified: HashMap<NormalizedPhone, (RelType, Option<Uuid>)> = senders
        .iter()
        .map(|(phone, _)| phone.clone())
        .zip(identify_senders(conn, &batch.rules, &mut batch.announcements, &senders).await?)
        .collect();
    let phones: HashMap<CustomerKey, NormalizedPhone> = stored
        .iter()
        .filter_map(|((_, _, customer, _), _)| Some((customer.clone(), phone_of(customer)?)))
        .collect();

    let mut notes = Vec::new();
    let mut consent_changes = Vec::new();
    let mut changed: Vec<Uuid> = Vec::new();
    for ((index, _, customer, message), id) in stored {
        let (rel_type, rel_id) = phones
            .get(&customer)
            .and_then(|phone| identified.get(phone))
            .copied()
            .unwrap_or((RelType::General, None));
        let key = *of_key.get(&customer).ok_or(StoreError::NotFound)?;
        let conversation = conversations.get_mut(&key).ok_or(StoreError::NotFound)?;
        if rel_type == RelType::Lead && batch.rules.inbound.lead_notes {
            if let Some(lead_id) = rel_id {
                notes.push(leads::NewLeadNote {
                    id: Uuid::now_v7(),
                    lead_id,
                    body: format!("WhatsApp message: {}", message.body),
                    created_by: None,
                    conversation_id: Some(conversation.id),
                });
            }
        }
        let keyword = phones.get(&customer).and_then(|phone| {
            let state = said_keyword(&batch.rules.consent, &message)?;
            consent_changes.push(crate::consent::keyword_change(
                phone,
                state,
                &message.body,
                message.sent_at,
            ));
            Some(state)
        });
        after_inbound(conversation, rel_type, rel_id, &message, id);
        if !changed.contains(&key) {
            changed.push(key);
        }
        batch.announce_new_message(id, conversation.id, "inbound");
        outcomes[index] = Ok(MessageOutcome::Stored {
            message_id: id,
            media: message.media.is_some(),
            bots: BotEvent {
                conversation_id: conversation.id,
                message_id: Some(id),
                event: Event::Inbound {
                    text: message.body,
                    at: message.sent_at,
                    from_staff: rel_type == RelType::Staff,
                },
            },
            keyword,
        });
    }
    leads::add_notes(conn, notes).await?;
    for change in consent_changes {
        consent::record(conn, change).await?;
    }
    let changed: Vec<Conversation> = changed
        .iter()
        .filter_map(|key| conversations.remove(key))
        .collect();
    conversations::save_inbound(conn, &changed).await?;
    Ok(outcomes)
}

/// The consent a message asks for, when all it says is a stop or start word:
/// typed, or a quick-reply button (a campaign's "Stop promotions").
fn said_keyword(settings: &ConsentSettings, message: &InboundMessage) -> Option<MarketingState> {
    match message.kind {
        MessageKind::Text | MessageKind::Button | MessageKind::Interactive => {
            settings.keyword(&message.body)
        }
        _ => None,
    }
}

/// The conversation key of a customer on one of our numbers: the phone
/// normalised, the user id as Meta wrote it. A phone that cannot be read is
/// dropped when the user id names the customer anyway.
fn customer_key(number_id: Uuid, customer: &CustomerRef) -> Result<CustomerKey, Rejection> {
    let user_id = customer
        .user_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let phone = match (&customer.phone, &user_id) {
        (Some(phone), user_id) => match NormalizedPhone::parse(phone, None) {
            Ok(phone) => Some(phone.into_string()),
            Err(_) if user_id.is_some() => None,
            Err(_) => return Err(format!("the sender `{phone}` is not a phone number")),
        },
        (None, Some(_)) => None,
        (None, None) => return Err("the message names no sender".into()),
    };
    Ok(CustomerKey {
        number_id,
        phone,
        user_id,
    })
}

/// A customer's new phone or user id: their conversation takes it (merging
/// with one the new identity already had); nothing when we never spoke.
pub async fn apply_customer_change(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    connection: &Connection,
    change: CustomerChange,
) -> StoreResult<Result<(), Rejection>> {
    let number = match resolve_number(conn, batch, connection, &change.number).await? {
        Ok(number) => number,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let (Ok(previous), Ok(current)) = (
        customer_key(number.id, &change.previous),
        customer_key(number.id, &change.current),
    ) else {
        return Ok(Err(format!(
            "an identity change names no readable customer: {change:?}"
        )));
    };
    if let Some(conversation) = conversations::change_identity(conn, &previous, &current).await? {
        batch
            .announcements
            .push(json!({"type": "conversation.updated", "conversation_id": conversation.id}));
    }
    Ok(Ok(()))
}

/// What one stored inbound message does to its conversation (the domain's
/// rules: the window by the message's own time, reopening, unread, preview).
fn after_inbound(
    conversation: &mut Conversation,
    rel_type: RelType,
    rel_id: Option<Uuid>,
    message: &InboundMessage,
    message_id: Uuid,
) {
    let status =
        ConversationStatus::parse(&conversation.status).unwrap_or(ConversationStatus::Open);
    if status != status.after_inbound() {
        conversation.snooze_until = None;
    }
    conversation.status = status.after_inbound().as_str().into();
    conversation.rel_type = rel_type.as_str().into();
    conversation.rel_id = rel_id;
    conversation.unread_count = conversation.unread_count.saturating_add(1);
    conversation.session_expires_at = Some(session::expiry_after_inbound(
        conversation.session_expires_at,
        message.sent_at,
    ));
    if let Some(name) = &message.profile_name {
        conversation.profile_name = Some(name.clone());
    }
    if let Some(username) = &message.from.username {
        conversation.customer_username = Some(username.clone());
    }
    if conversation
        .last_message_at
        .is_none_or(|last| message.sent_at >= last)
    {
        conversation.last_message_id = Some(message_id);
        conversation.last_message_at = Some(message.sent_at);
        conversation.last_message_preview = Some(preview(&message.body));
    }
}

/// Lead, contact or staff for each sender (by phone, with its country
/// variants); an unknown sender becomes a lead when auto-lead is on.
async fn identify_senders(
    conn: &mut AsyncPgConnection,
    rules: &InboundRules,
    announcements: &mut Vec<serde_json::Value>,
    senders: &[(NormalizedPhone, Option<String>)],
) -> StoreResult<Vec<(RelType, Option<Uuid>)>> {
    let spellings: Vec<Vec<String>> = senders
        .iter()
        .map(|(phone, _)| phone_variants(phone.as_str()))
        .collect();
    let found = matching::candidates_for(conn, &spellings).await?;
    let mut identified = Vec::with_capacity(senders.len());
    for ((phone, profile_name), found) in senders.iter().zip(found) {
        let (rel_type, rel_id) = identify(found);
        if rel_type != RelType::General || !rules.auto_lead.enabled {
            identified.push((rel_type, rel_id));
            continue;
        }
        let settings = &rules.auto_lead;
        let lead = leads::insert(
            conn,
            leads::NewLead {
                id: Uuid::now_v7(),
                name: profile_name
                    .as_deref()
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
        // `lead_created` commits with the lead, as for a lead created through the API.
        crate::crm_events::emit(
            conn,
            wacrm_domain::crm_events::EventType::LeadCreated,
            lead.id,
            crate::crm_events::lead_data(&lead),
            chrono::Utc::now(),
        )
        .await?;
        tracing::info!(lead_id = %lead.id, "auto-lead created for an unknown sender");
        announcements
            .push(json!({"type": "lead.created", "lead_id": lead.id, "source": "auto_lead"}));
        identified.push((RelType::Lead, Some(lead.id)));
    }
    Ok(identified)
}

fn preview(body: &str) -> String {
    const MAX: usize = 120;
    let mut preview: String = body.chars().take(MAX).collect();
    if body.chars().count() > MAX {
        preview.push('…');
    }
    preview
}

/// Records the report; moves the message's status only forward (see
/// [`crate::statuses`]: which message, on which connection, and reports that
/// come before the send's id is known).
pub async fn apply_status(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    connection: &Connection,
    update: StatusUpdate,
) -> StoreResult<()> {
    crate::statuses::apply_report(conn, &mut batch.announcements, connection, update).await
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

/// Applies Meta's quality, category or lock event to the template it names, and
/// announces it as `template.updated`.
pub async fn apply_template_change(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    connection: &Connection,
    template: &TemplateRef,
    change: templates::TemplateChange<'_>,
) -> StoreResult<()> {
    let changed = templates::apply_change(
        conn,
        templates::TemplateKey {
            connection_id: connection.id,
            name: &template.name,
            language: template.language.as_deref(),
        },
        change,
    )
    .await?;
    for row in changed {
        batch.announcements.push(json!({
            "type": "template.updated",
            "connection_id": connection.id,
            "template_id": row.id,
            "name": row.name,
            "language": row.language,
            "category": row.category,
            "quality_score": row.quality_score,
            "locked": row.locked_at.is_some(),
        }));
    }
    Ok(())
}
