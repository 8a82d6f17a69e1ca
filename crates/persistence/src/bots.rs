//! Bots (stored whole as the domain defines them) and their per-conversation memory.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::prepared::PreparedExt as _;
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

/// [`history`] of many (conversation, before) pairs in one round trip, in the
/// order asked: a batch of bot events reads its histories together.
pub async fn histories(
    conn: &mut AsyncPgConnection,
    wanted: &[(Uuid, Uuid)],
) -> StoreResult<Vec<History>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        inbound_before: i64,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
        last_inbound_at: Option<DateTime<Utc>>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
        unanswered_since: Option<DateTime<Utc>>,
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let (conversations, befores): (Vec<Uuid>, Vec<Uuid>) = wanted.iter().copied().unzip();
    // The same three questions as `history`, asked per pair by LATERAL subqueries.
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT before.inbound_before, before.last_inbound_at, unanswered.since AS unanswered_since \
           FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS q(conversation_id, before_id, n) \
           CROSS JOIN LATERAL ( \
               SELECT count(*) AS inbound_before, max(m.sent_at) AS last_inbound_at \
                 FROM messages AS m \
                WHERE m.conversation_id = q.conversation_id AND m.direction = 'inbound' \
                  AND m.id < q.before_id) AS before \
           CROSS JOIN LATERAL ( \
               SELECT min(m.sent_at) AS since \
                 FROM messages AS m \
                WHERE m.conversation_id = q.conversation_id AND m.direction = 'inbound' \
                  AND m.id > COALESCE( \
                      (SELECT s.id FROM messages AS s \
                        WHERE s.conversation_id = q.conversation_id AND s.direction = 'outbound' \
                          AND s.sent_by LIKE 'staff:%' \
                        ORDER BY s.id DESC LIMIT 1), \
                      '00000000-0000-0000-0000-000000000000'::uuid)) AS unanswered \
          ORDER BY q.n",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(conversations)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(befores)
    .prepared()
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| History {
            inbound_before: row.inbound_before,
            last_inbound_at: row.last_inbound_at,
            unanswered_since: row.unanswered_since,
        })
        .collect())
}

/// The bot memory rows of `conversation_ids` that exist, in one query.
pub async fn memories_of(
    conn: &mut AsyncPgConnection,
    conversation_ids: &[Uuid],
) -> StoreResult<Vec<ConversationBots>> {
    Ok(conversation_bots::table
        .filter(conversation_bots::conversation_id.eq_any(conversation_ids))
        .select(ConversationBots::as_select())
        .load(conn)
        .await?)
}

/// The names of the leads, contacts and staff members among `ids`, as
/// (id, name), in one query (their ids are UUIDv7s: they never collide).
pub async fn record_names(
    conn: &mut AsyncPgConnection,
    leads: &[Uuid],
    contacts: &[Uuid],
    staff: &[Uuid],
) -> StoreResult<Vec<(Uuid, String)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    if leads.is_empty() && contacts.is_empty() && staff.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT id, name FROM leads WHERE id = ANY($1) \
         UNION ALL SELECT id, name FROM contacts WHERE id = ANY($2) \
         UNION ALL SELECT id, name FROM staff WHERE id = ANY($3)",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(leads)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(contacts)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(staff)
    .prepared()
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.name)).collect())
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
