//! Sending one notification: the recipient's phone, the template as it is
//! now, the parameters rendered from the event, then the outbox (window,
//! approval, consent and blocklist apply as to any template send). Whatever
//! happens is written to the notification's log row; a send that the rules
//! refuse leaves nothing else behind (not even a new empty conversation).

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use serde_json::{Value, json};
use uuid::Uuid;
use wacrm_domain::NormalizedPhone;
use wacrm_domain::notifications::condition::Condition;
use wacrm_domain::notifications::outcome::{Outcome, Reason};
use wacrm_domain::notifications::schedule::Reminder;
use wacrm_domain::notifications::send_to::SendTo;
use wacrm_domain::template;
use wacrm_domain::template_mapping::MappedParameters;
use wacrm_persistence::messages::Message;
use wacrm_persistence::notifications::log::{self, Settled};
use wacrm_persistence::notifications::mappings::Mapping;
use wacrm_persistence::{
    AsyncPgConnection, StoreError, StoreResult, conversations, events, numbers, templates,
};

use super::sent_by;
use crate::context::WorkerContext;
use crate::outbox::{self, Draft, OutboxError, Refusal};

/// A mapping's stored JSON, read back into the domain's types.
pub struct Definition {
    pub send_to: SendTo,
    pub parameters: MappedParameters,
    pub condition: Option<Condition>,
    pub reminder: Option<Reminder>,
}

impl Definition {
    pub fn of(mapping: &Mapping) -> Result<Self, serde_json::Error> {
        Ok(Self {
            send_to: serde_json::from_value(mapping.send_to.clone())?,
            parameters: serde_json::from_value(mapping.parameters.clone())?,
            condition: mapping
                .condition
                .clone()
                .map(serde_json::from_value)
                .transpose()?,
            reminder: mapping
                .reminder
                .clone()
                .map(serde_json::from_value)
                .transpose()?,
        })
    }
}

/// Why the savepoint around the conversation and the outbox was rolled back.
enum Abort {
    Refused(Refusal),
    Store(StoreError),
}

impl From<diesel::result::Error> for Abort {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}

fn skipped(reason: Reason, detail: impl Into<String>) -> Settled {
    Settled {
        outcome: Outcome::Skipped.as_str().to_owned(),
        reason: Some(reason.as_str().to_owned()),
        detail: Some(detail.into()),
        ..Settled::default()
    }
}

/// Sends (or skips) the notification `notification_id` and logs the outcome.
pub async fn send(
    conn: &mut AsyncPgConnection,
    ctx: &WorkerContext,
    mapping: &Mapping,
    definition: &Definition,
    record: &Value,
    notification_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let settled = attempt(conn, ctx, mapping, definition, record, now).await?;
    let message_id = settled.message_id;
    let notification = log::settle(conn, notification_id, settled).await?;
    if let Some(message_id) = message_id {
        events::publish(
            conn,
            &json!({"type": "notification.sent", "notification_id": notification.id,
                    "mapping_id": mapping.id, "event_id": notification.event_id,
                    "event_type": notification.event_type, "message_id": message_id}),
        )
        .await?;
    }
    Ok(())
}

async fn attempt(
    conn: &mut AsyncPgConnection,
    ctx: &WorkerContext,
    mapping: &Mapping,
    definition: &Definition,
    record: &Value,
    now: DateTime<Utc>,
) -> StoreResult<Settled> {
    let who = match &definition.send_to {
        SendTo::Contact => "contact".to_owned(),
        SendTo::Lead => "lead".to_owned(),
        SendTo::Staff => "staff member".to_owned(),
        SendTo::PhoneField { path } => format!("field `{path}`"),
    };
    let Some(given) = definition.send_to.phone(record) else {
        return Ok(skipped(
            Reason::NoPhone,
            format!("the event's {who} has no phone"),
        ));
    };
    let Ok(phone) = NormalizedPhone::parse(&given, None) else {
        return Ok(skipped(
            Reason::NoPhone,
            format!(
                "the event's {who} has `{given}`, which is not a phone number with its country code"
            ),
        ));
    };
    let number = numbers::find(conn, mapping.number_id).await?;
    let (name, language) = (&mapping.template_name, &mapping.template_language);
    let Some(found) = templates::find_for_send(conn, number.connection_id, name, language).await?
    else {
        return Ok(skipped(
            Reason::TemplateNotFound,
            format!("no template `{name}` in `{language}` on the sender number's connection"),
        ));
    };
    let mut settled = if found.status == "APPROVED" {
        let requirements = template::requirements(&found.components);
        match definition
            .parameters
            .render(name, language, &requirements, record)
        {
            Ok(content) => {
                let parameters = serde_json::to_value(&content)
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                let mut settled =
                    queue(conn, ctx, mapping, number.id, &phone, content, now).await?;
                settled.parameters = Some(parameters);
                settled
            }
            Err(path) => skipped(
                Reason::MissingField,
                format!("`{path}` is missing from the event and its parameter has no fallback"),
            ),
        }
    } else {
        skipped(
            Reason::TemplateNotApproved,
            format!(
                "the template `{name}` is {}, and only APPROVED templates are sent",
                found.status
            ),
        )
    };
    settled.phone = Some(phone.into_string());
    Ok(settled)
}

/// Hands the message to the outbox inside a savepoint: a refusal undoes the
/// conversation it may have created.
async fn queue(
    conn: &mut AsyncPgConnection,
    ctx: &WorkerContext,
    mapping: &Mapping,
    number_id: Uuid,
    phone: &NormalizedPhone,
    content: wacrm_domain::outbound::OutboundContent,
    now: DateTime<Utc>,
) -> StoreResult<Settled> {
    let draft = Draft {
        content,
        context_message_id: None,
        sent_by: sent_by(mapping.id),
    };
    let queued = conn
        .transaction::<Message, Abort, _>(async |conn| {
            let conversation = conversations::lock_or_create(conn, number_id, phone.as_str())
                .await
                .map_err(Abort::Store)?;
            outbox::queue(conn, &ctx.cipher, &conversation, draft, now)
                .await
                .map_err(|error| match error {
                    OutboxError::Refused(refusal) => Abort::Refused(refusal),
                    OutboxError::Store(error) => Abort::Store(error),
                })
        })
        .await;
    Ok(match queued {
        Ok(message) => Settled {
            outcome: Outcome::Sent.as_str().to_owned(),
            message_id: Some(message.id),
            ..Settled::default()
        },
        Err(Abort::Store(error)) => return Err(error),
        Err(Abort::Refused(refusal)) => refused(refusal),
    })
}

fn refused(refusal: Refusal) -> Settled {
    match refusal {
        Refusal::RecipientOptedOut => skipped(
            Reason::OptedOut,
            "the recipient opted out of marketing messages",
        ),
        Refusal::RecipientBlocked => skipped(
            Reason::Blocked,
            "the recipient's number is on the blocklist",
        ),
        Refusal::TemplateNotFound { name, language } => skipped(
            Reason::TemplateNotFound,
            format!("no template `{name}` in `{language}`"),
        ),
        Refusal::TemplateNotApproved { name, status } => skipped(
            Reason::TemplateNotApproved,
            format!("the template `{name}` is {status}, and only APPROVED templates are sent"),
        ),
        Refusal::TemplateParameters(problem) => {
            skipped(Reason::TemplateParametersMismatch, problem)
        }
        Refusal::Unsupported(sentence) => skipped(Reason::UnsupportedByProvider, sentence),
        Refusal::SessionExpired { .. } => skipped(
            Reason::UnsupportedByProvider,
            "the provider refused a template outside the session window",
        ),
    }
}
