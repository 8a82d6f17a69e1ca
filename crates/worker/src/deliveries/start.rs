//! Starting a batch of deliveries: what each send needs read, and each
//! attempt started (`send_started_at` committed before any provider call), in
//! one transaction with a statement per step for the whole batch.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use diesel_async::AsyncConnection as _;
use uuid::Uuid;
use wacrm_domain::consent::Standing;
use wacrm_domain::consent::{self, Sending};
use wacrm_domain::outbound::OutboundContent;
use wacrm_persistence::connections::{self, Connection};
use wacrm_persistence::conversations::Conversation;
use wacrm_persistence::messages::{self, Message};
use wacrm_persistence::numbers::Number;
use wacrm_persistence::secrets::Cipher;
use wacrm_persistence::{AsyncPgConnection, PgPool, StoreError, jobs, templates};

use crate::outbox::{Refusal, consent_phone, consent_refused};

/// A delivery about to call the provider.
pub struct StartRequest {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    /// The job's ordering key (its conversation's).
    pub ordering_key: Option<String>,
}

/// What starting a delivery found.
pub enum Start {
    /// The attempt is started: call the provider (unless `refusal`).
    Started(Box<Started>),
    /// Not started: the message is no longer queued, or an earlier attempt
    /// started it and may have reached the provider.
    NotStarted,
    /// The conversation, or its number, is gone.
    Gone,
    /// The batch failed (nothing of it was started); try again.
    Failed(String),
}

pub struct Started {
    pub message: Message,
    /// The stored content, or why it cannot be read.
    pub content: Result<OutboundContent, String>,
    pub conversation: Conversation,
    pub number: Number,
    pub connection: Connection,
    /// Consent changed while the message waited: it must not go.
    pub refusal: Option<Refusal>,
    /// Earlier messages of the conversation still waiting: the runner let
    /// this one go ahead of them (they kept failing past its order wait).
    pub ahead_of: Vec<Uuid>,
}

/// Starts every delivery of `requests` that is still to be sent; answers
/// each in order. A failure fails the whole batch, with nothing started.
pub async fn start_all(pool: PgPool, cipher: Cipher, requests: Vec<StartRequest>) -> Vec<Start> {
    let started = async {
        let mut conn = pool.get().await.map_err(|error| error.to_string())?;
        conn.transaction::<_, StoreError, _>(async |conn| start(conn, &cipher, &requests).await)
            .await
            .map_err(|error| error.to_string())
    }
    .await;
    match started {
        Ok(answers) => answers,
        Err(error) => {
            tracing::warn!(%error, deliveries = requests.len(), "cannot start a batch of deliveries; each is tried again");
            requests
                .iter()
                .map(|_| Start::Failed(error.clone()))
                .collect()
        }
    }
}

async fn start(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    requests: &[StartRequest],
) -> Result<Vec<Start>, StoreError> {
    let conversation_ids: Vec<Uuid> = requests.iter().map(|r| r.conversation_id).collect();
    let mut senders = connections::senders_of(conn, cipher, &conversation_ids).await?;
    let keys: Vec<String> = requests
        .iter()
        .filter_map(|r| r.ordering_key.clone())
        .collect();
    let mut active: HashMap<String, Vec<Uuid>> = HashMap::new();
    for (key, payload) in jobs::active_with_ordering_keys(conn, &keys).await? {
        if let Ok(job) = serde_json::from_value::<crate::jobs::DeliverMessage>(payload) {
            active.entry(key).or_default().push(job.message_id);
        }
    }
    let startable: Vec<Uuid> = requests
        .iter()
        .filter(|r| senders.contains_key(&r.conversation_id))
        .map(|r| r.message_id)
        .collect();
    let mut started: HashMap<Uuid, Message> = messages::start_sends(conn, &startable)
        .await?
        .into_iter()
        .map(|message| (message.id, message))
        .collect();
    let contents: HashMap<Uuid, Result<OutboundContent, String>> = started
        .values()
        .map(|message| {
            let content = serde_json::from_value(message.payload.clone())
                .map_err(|error: serde_json::Error| error.to_string());
            (message.id, content)
        })
        .collect();
    let consent = Consent::read(conn, &started, &contents, &senders).await?;

    let mut answers = Vec::with_capacity(requests.len());
    let mut contents = contents;
    for request in requests {
        let Some((conversation, number, connection)) = senders.remove(&request.conversation_id)
        else {
            answers.push(Start::Gone);
            continue;
        };
        let Some(message) = started.remove(&request.message_id) else {
            answers.push(Start::NotStarted);
            continue;
        };
        let content = contents
            .remove(&message.id)
            .unwrap_or_else(|| Err("no content".into()));
        let refusal = consent.refusal(&conversation, &connection, &content);
        let ahead_of = request
            .ordering_key
            .as_ref()
            .and_then(|key| active.get(key))
            .map(|queued| {
                queued
                    .iter()
                    .copied()
                    .take_while(|id| *id != message.id)
                    .collect()
            })
            .unwrap_or_default();
        answers.push(Start::Started(Box::new(Started {
            message,
            content,
            conversation,
            number,
            connection,
            refusal,
            ahead_of,
        })));
    }
    Ok(answers)
}

/// The consent rule's inputs for the batch: each recipient's standing and
/// each template's category, read once.
struct Consent {
    standings: HashMap<String, Standing>,
    /// By connection, template name and language.
    categories: HashMap<(Uuid, String, String), Option<String>>,
}

impl Consent {
    async fn read(
        conn: &mut AsyncPgConnection,
        started: &HashMap<Uuid, Message>,
        contents: &HashMap<Uuid, Result<OutboundContent, String>>,
        senders: &HashMap<Uuid, (Conversation, Number, Connection)>,
    ) -> Result<Self, StoreError> {
        let mut phones = Vec::new();
        let mut categories = HashMap::new();
        for message in started.values() {
            let Some((conversation, _, connection)) = senders.get(&message.conversation_id) else {
                continue;
            };
            phones.extend(consent_phone(conversation));
            if let Some(Ok(OutboundContent::Template { name, language, .. })) =
                contents.get(&message.id)
            {
                let key = (connection.id, name.clone(), language.clone());
                if let Entry::Vacant(entry) = categories.entry(key) {
                    let category = templates::find_for_send(conn, connection.id, name, language)
                        .await?
                        .and_then(|template| template.category);
                    entry.insert(category);
                }
            }
        }
        phones.sort_unstable();
        phones.dedup();
        let standings = wacrm_persistence::consent::standings(conn, &phones).await?;
        Ok(Self {
            standings,
            categories,
        })
    }

    /// The consent rule as it stands now for the queued `content`.
    fn refusal(
        &self,
        conversation: &Conversation,
        connection: &Connection,
        content: &Result<OutboundContent, String>,
    ) -> Option<Refusal> {
        let phone = consent_phone(conversation)?;
        let sending = match content {
            Ok(OutboundContent::Template { name, language, .. }) => Sending::Template {
                category: self
                    .categories
                    .get(&(connection.id, name.clone(), language.clone()))
                    .and_then(Option::as_deref),
            },
            _ => Sending::FreeForm,
        };
        let standing = self.standings.get(&phone).copied().unwrap_or_default();
        consent::check(standing, sending).err().map(consent_refused)
    }
}
