//! Bots (stored whole as the domain defines them) and their per-conversation memory.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::schema::{bots, conversation_bots, messages};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bots)]
pub struct BotRow {
    pub id: Uuid,
    pub name: String,
    pub is_active: bool,
    pub priority: i32,
    pub definition: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: &str,
    is_active: bool,
    priority: i32,
    definition: &serde_json::Value,
) -> StoreResult<BotRow> {
    Ok(diesel::insert_into(bots::table)
        .values((
            bots::id.eq(id),
            bots::name.eq(name),
            bots::is_active.eq(is_active),
            bots::priority.eq(priority),
            bots::definition.eq(definition),
        ))
        .returning(BotRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn replace(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: &str,
    is_active: bool,
    priority: i32,
    definition: &serde_json::Value,
) -> StoreResult<BotRow> {
    Ok(diesel::update(bots::table.find(id))
        .set((
            bots::name.eq(name),
            bots::is_active.eq(is_active),
            bots::priority.eq(priority),
            bots::definition.eq(definition),
            bots::updated_at.eq(Utc::now()),
        ))
        .returning(BotRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<BotRow> {
    Ok(bots::table
        .find(id)
        .select(BotRow::as_select())
        .first(conn)
        .await?)
}

pub async fn list(conn: &mut AsyncPgConnection, page: PageRequest) -> StoreResult<Page<BotRow>> {
    let query = bots::table.select(BotRow::as_select()).into_boxed();
    let rows = crate::paginate!(query, bots::id, page).load(conn).await?;
    Ok(Page::from_rows(rows, page, |bot| bot.id))
}

/// Every active bot, highest priority first.
pub async fn active(conn: &mut AsyncPgConnection) -> StoreResult<Vec<BotRow>> {
    Ok(bots::table
        .filter(bots::is_active)
        .order((bots::priority.desc(), bots::id))
        .select(BotRow::as_select())
        .load(conn)
        .await?)
}

/// Whether any bot is active: when none is, inbound messages need no bot run.
pub async fn any_active(conn: &mut AsyncPgConnection) -> StoreResult<bool> {
    Ok(
        diesel::select(diesel::dsl::exists(bots::table.filter(bots::is_active)))
            .get_result(conn)
            .await?,
    )
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(bots::table.find(id)).execute(conn).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Default, Queryable, Selectable)]
#[diesel(table_name = conversation_bots)]
pub struct ConversationBots {
    pub conversation_id: Uuid,
    pub memory: serde_json::Value,
    pub rating: Option<i16>,
    pub rated_at: Option<DateTime<Utc>>,
    pub ai_suggestion: Option<String>,
    pub ai_suggested_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

pub async fn memory_of(
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
) -> StoreResult<Option<ConversationBots>> {
    Ok(conversation_bots::table
        .find(conversation_id)
        .select(ConversationBots::as_select())
        .first(conn)
        .await
        .optional()?)
}

async fn ensure(conn: &mut AsyncPgConnection, conversation_id: Uuid) -> StoreResult<()> {
    diesel::insert_into(conversation_bots::table)
        .values(conversation_bots::conversation_id.eq(conversation_id))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn save_memory(
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
    memory: &serde_json::Value,
) -> StoreResult<()> {
    ensure(conn, conversation_id).await?;
    diesel::update(conversation_bots::table.find(conversation_id))
        .set((
            conversation_bots::memory.eq(memory),
            conversation_bots::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn save_rating(
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
    rating: i16,
) -> StoreResult<()> {
    ensure(conn, conversation_id).await?;
    diesel::update(conversation_bots::table.find(conversation_id))
        .set((
            conversation_bots::rating.eq(rating),
            conversation_bots::rated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn save_suggestion(
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
    suggestion: &str,
) -> StoreResult<()> {
    ensure(conn, conversation_id).await?;
    diesel::update(conversation_bots::table.find(conversation_id))
        .set((
            conversation_bots::ai_suggestion.eq(suggestion),
            conversation_bots::ai_suggested_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// What the engine needs from a conversation's history.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Inbound messages before `before`.
    pub inbound_before: i64,
    /// The latest inbound message before `before`.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// The first inbound message after staff last replied (no staff reply: the first ever).
    pub unanswered_since: Option<DateTime<Utc>>,
}

pub async fn history(
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
    before: Uuid,
) -> StoreResult<History> {
    let inbound = || {
        messages::table
            .filter(messages::conversation_id.eq(conversation_id))
            .filter(messages::direction.eq("inbound"))
    };
    let inbound_before: i64 = inbound()
        .filter(messages::id.lt(before))
        .count()
        .get_result(conn)
        .await?;
    let last_inbound_at = inbound()
        .filter(messages::id.lt(before))
        .select(diesel::dsl::max(messages::sent_at))
        .first::<Option<DateTime<Utc>>>(conn)
        .await?;
    let last_staff: Option<Uuid> = messages::table
        .filter(messages::conversation_id.eq(conversation_id))
        .filter(messages::direction.eq("outbound"))
        .filter(messages::sent_by.like("staff:%"))
        .order(messages::id.desc())
        .select(messages::id)
        .first(conn)
        .await
        .optional()?;
    let mut unanswered = inbound().into_boxed();
    if let Some(last_staff) = last_staff {
        unanswered = unanswered.filter(messages::id.gt(last_staff));
    }
    let unanswered_since = unanswered
        .select(diesel::dsl::min(messages::sent_at))
        .first(conn)
        .await?;
    Ok(History {
        inbound_before,
        last_inbound_at,
        unanswered_since,
    })
}

/// The conversation's recent messages, oldest first (context for AI answers).
pub async fn recent_messages(
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
    limit: i64,
) -> StoreResult<Vec<(String, String)>> {
    let mut rows: Vec<(String, String)> = messages::table
        .filter(messages::conversation_id.eq(conversation_id))
        .order(messages::id.desc())
        .limit(limit)
        .select((messages::direction, messages::body))
        .load(conn)
        .await?;
    rows.reverse();
    Ok(rows)
}
