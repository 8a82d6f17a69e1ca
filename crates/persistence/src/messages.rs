//! Messages, their media, and every status a provider reported for them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::prepared::PreparedExt as _;
use crate::schema::{conversations, message_media, message_status_events, messages};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub direction: String,
    pub kind: String,
    pub body: String,
    pub payload: serde_json::Value,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub status: String,
    pub error: Option<serde_json::Value>,
    pub sent_by: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub context_message_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when a delivery attempt is about to call the provider.
    pub send_started_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessage {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub direction: String,
    pub kind: String,
    pub body: String,
    pub payload: serde_json::Value,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub status: String,
    pub sent_by: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub context_message_id: Option<String>,
}

/// Inserts unless the provider's message id is already stored (a provider's
/// second delivery); `None` then, and nothing changed.
pub async fn insert_unless_known(
    conn: &mut AsyncPgConnection,
    new: NewMessage,
) -> StoreResult<Option<Message>> {
    Ok(diesel::insert_into(messages::table)
        .values(new)
        .on_conflict_do_nothing()
        .returning(Message::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

/// [`insert_unless_known`] for many messages: returns the ones inserted. A
/// provider id is unique per conversation, so per connection: another
/// connection's message under the same id is not a duplicate.
/// Rows go in by provider message id, so concurrent batches that share some
/// wait for each other in the same order.
pub async fn insert_many_unless_known(
    conn: &mut AsyncPgConnection,
    mut new: Vec<NewMessage>,
) -> StoreResult<Vec<Message>> {
    new.sort_by(|a, b| a.provider_message_id.cmp(&b.provider_message_id));
    let mut inserted = Vec::with_capacity(new.len());
    // A message binds 12 parameters.
    for chunk in new.chunks(crate::bulk::rows_per_insert(12)) {
        inserted.extend(
            diesel::insert_into(messages::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .returning(Message::as_returning())
                .get_results(conn)
                .await?,
        );
    }
    Ok(inserted)
}

/// Those of `ids` whose conversation is assigned to someone other than
/// `staff`: the messages an agent restricted to their own and unassigned
/// conversations may not read (the inbox visibility policy).
pub async fn outside_view(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    staff: Uuid,
) -> StoreResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(messages::table
        .inner_join(conversations::table)
        .filter(messages::id.eq_any(ids))
        .filter(conversations::assigned_to.ne(staff))
        .select(messages::id)
        .load(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Message> {
    Ok(messages::table
        .find(id)
        .select(Message::as_select())
        .first(conn)
        .await?)
}

/// The message, locked for the caller's transaction.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Message> {
    Ok(messages::table
        .find(id)
        .select(Message::as_select())
        .for_update()
        .first(conn)
        .await?)
}

/// Starts delivery attempts: stamps `send_started_at` on each queued message
/// of `ids` that no attempt has started, in one statement, so two attempts
/// can never both start one. Answers the messages started; one left out is
/// not queued or was started already (see [`lock`] to tell which).
pub async fn start_sends(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> StoreResult<Vec<Message>> {
    Ok(
        diesel::update(messages::table.filter(messages::id.eq_any(ids)))
            .filter(messages::status.eq("queued"))
            .filter(messages::send_started_at.is_null())
            .set(messages::send_started_at.eq(Utc::now()))
            .returning(Message::as_returning())
            .load(conn)
            .await?,
    )
}

/// The provider refused before accepting anything: a later attempt may call again.
pub async fn clear_send_started(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    diesel::update(messages::table.find(id))
        .set(messages::send_started_at.eq(None::<DateTime<Utc>>))
        .execute(conn)
        .await?;
    Ok(())
}

/// The providers accepted messages: each id with the provider message id it
/// was accepted under, in one statement.
pub async fn mark_sent_many(
    conn: &mut AsyncPgConnection,
    sent: &[(Uuid, &str)],
) -> StoreResult<()> {
    let (ids, provider_ids): (Vec<Uuid>, Vec<&str>) = sent.iter().copied().unzip();
    diesel::sql_query(
        "UPDATE messages AS m \
            SET provider_message_id = v.provider_message_id, status = 'sent', updated_at = $3 \
           FROM unnest($1::uuid[], $2::text[]) AS v(id, provider_message_id) \
          WHERE m.id = v.id",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(provider_ids)
    .bind::<diesel::sql_types::Timestamptz, _>(Utc::now())
    .prepared()
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest inbound message of a conversation (what "mark read" acknowledges).
pub async fn latest_inbound(
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
) -> StoreResult<Option<Message>> {
    Ok(messages::table
        .filter(messages::conversation_id.eq(conversation_id))
        .filter(messages::direction.eq("inbound"))
        .order(messages::id.desc())
        .select(Message::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The message a provider knows by this id, locked for the caller's transaction.
pub async fn lock_by_provider_id(
    conn: &mut AsyncPgConnection,
    provider: &str,
    provider_message_id: &str,
) -> StoreResult<Option<Message>> {
    Ok(messages::table
        .filter(messages::provider.eq(provider))
        .filter(messages::provider_message_id.eq(provider_message_id))
        .select(Message::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

/// A conversation's messages, newest first.
pub async fn list_for_conversation(
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
    page: PageRequest,
) -> StoreResult<Page<Message>> {
    let query = messages::table
        .filter(messages::conversation_id.eq(conversation_id))
        .select(Message::as_select())
        .into_boxed();
    let rows = crate::paginate!(query, messages::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |message| message.id))
}

pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: &str,
    error: Option<serde_json::Value>,
) -> StoreResult<()> {
    diesel::update(messages::table.find(id))
        .set((
            messages::status.eq(status),
            messages::error.eq(error),
            messages::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = message_status_events)]
pub struct StatusEvent {
    pub id: Uuid,
    pub message_id: Option<Uuid>,
    pub provider: String,
    pub provider_message_id: String,
    pub status: String,
    pub occurred_at: DateTime<Utc>,
    pub applied: bool,
    pub errors: serde_json::Value,
    pub billing: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    /// The connection the report came on (reports stored before it was kept: none).
    pub connection_id: Option<Uuid>,
    /// The customer the report names, E.164 digits when it is a phone number.
    pub recipient: Option<String>,
}

/// Records a status report; false when the same report was already recorded.
pub async fn record_status_event(
    conn: &mut AsyncPgConnection,
    event: StatusEvent,
) -> StoreResult<bool> {
    let inserted = diesel::insert_into(message_status_events::table)
        .values(event)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted > 0)
}

/// Reports that found no message yet, naming one of `ids` on the connection,
/// oldest first; locked for the caller's transaction.
pub async fn waiting_statuses(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    ids: &[String],
) -> StoreResult<Vec<StatusEvent>> {
    Ok(message_status_events::table
        .filter(message_status_events::message_id.is_null())
        .filter(message_status_events::connection_id.eq(connection_id))
        .filter(message_status_events::provider_message_id.eq_any(ids))
        .order((
            message_status_events::occurred_at,
            message_status_events::id,
        ))
        .select(StatusEvent::as_select())
        .for_update()
        .load(conn)
        .await?)
}

/// Reports that found no message yet, about `recipient` on the connection,
/// that happened between `from` and `to`, oldest first; locked for the
/// caller's transaction.
pub async fn waiting_statuses_to(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    recipient: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StoreResult<Vec<StatusEvent>> {
    Ok(message_status_events::table
        .filter(message_status_events::message_id.is_null())
        .filter(message_status_events::connection_id.eq(connection_id))
        .filter(message_status_events::recipient.eq(recipient))
        .filter(message_status_events::occurred_at.between(from, to))
        .order((
            message_status_events::occurred_at,
            message_status_events::id,
        ))
        .select(StatusEvent::as_select())
        .for_update()
        .load(conn)
        .await?)
}

/// A waiting report found its message; `applied` when it moved the status.
pub async fn link_status_event(
    conn: &mut AsyncPgConnection,
    event_id: Uuid,
    message_id: Uuid,
    applied: bool,
) -> StoreResult<()> {
    diesel::update(message_status_events::table.find(event_id))
        .set((
            message_status_events::message_id.eq(message_id),
            message_status_events::applied.eq(applied),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The id the message is shown with (the wamid, once a status taught it us).
pub async fn set_provider_message_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    provider_message_id: &str,
) -> StoreResult<()> {
    diesel::update(messages::table.find(id))
        .set((
            messages::provider_message_id.eq(provider_message_id),
            messages::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = message_media)]
pub struct Media {
    pub message_id: Uuid,
    pub source: serde_json::Value,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    pub sha256: Option<String>,
    pub stored_key: Option<String>,
    pub size_bytes: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = message_media)]
pub struct NewMedia {
    pub message_id: Uuid,
    pub source: serde_json::Value,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    pub sha256: Option<String>,
}

pub async fn insert_media(conn: &mut AsyncPgConnection, media: NewMedia) -> StoreResult<()> {
    diesel::insert_into(message_media::table)
        .values(media)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find_media(
    conn: &mut AsyncPgConnection,
    message_id: Uuid,
) -> StoreResult<Option<Media>> {
    Ok(message_media::table
        .find(message_id)
        .select(Media::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Media of several messages at once (for listing a page of messages).
pub async fn media_of(
    conn: &mut AsyncPgConnection,
    message_ids: &[Uuid],
) -> StoreResult<Vec<Media>> {
    Ok(message_media::table
        .filter(message_media::message_id.eq_any(message_ids))
        .select(Media::as_select())
        .load(conn)
        .await?)
}

pub async fn media_stored(
    conn: &mut AsyncPgConnection,
    message_id: Uuid,
    key: &str,
    size: i64,
    mime_type: Option<&str>,
) -> StoreResult<()> {
    diesel::update(message_media::table.find(message_id))
        .set((
            message_media::stored_key.eq(key),
            message_media::size_bytes.eq(size),
            message_media::mime_type.eq(mime_type),
            message_media::last_error.eq(None::<String>),
            message_media::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn media_failed(
    conn: &mut AsyncPgConnection,
    message_id: Uuid,
    error: &str,
) -> StoreResult<()> {
    diesel::update(message_media::table.find(message_id))
        .set((
            message_media::last_error.eq(error),
            message_media::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The status histories of several messages (for listing a page of messages).
pub async fn status_histories(
    conn: &mut AsyncPgConnection,
    message_ids: &[Uuid],
) -> StoreResult<Vec<StatusEvent>> {
    Ok(message_status_events::table
        .filter(message_status_events::message_id.eq_any(message_ids))
        .order((
            message_status_events::occurred_at,
            message_status_events::id,
        ))
        .select(StatusEvent::as_select())
        .load(conn)
        .await?)
}

/// Replaces a message's content after the sender edited or revoked it (the caller
/// keeps the earlier content in `payload`).
pub async fn revise(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    kind: &str,
    body: &str,
    payload: serde_json::Value,
) -> StoreResult<()> {
    diesel::update(messages::table.find(id))
        .set((
            messages::kind.eq(kind),
            messages::body.eq(body),
            messages::payload.eq(payload),
            messages::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
