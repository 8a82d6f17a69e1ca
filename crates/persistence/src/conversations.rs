//! Conversations: one per business number and customer phone.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::schema::{conversations, messages};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = conversations)]
pub struct Conversation {
    pub id: Uuid,
    pub number_id: Uuid,
    pub customer_phone: String,
    pub profile_name: Option<String>,
    pub rel_type: String,
    pub rel_id: Option<Uuid>,
    pub status: String,
    pub assigned_to: Option<Uuid>,
    pub unread_count: i32,
    pub last_message_id: Option<Uuid>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub last_message_preview: Option<String>,
    pub session_expires_at: Option<DateTime<Utc>>,
    pub snooze_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = conversations)]
pub struct ConversationChanges {
    pub profile_name: Option<Option<String>>,
    pub rel_type: Option<String>,
    pub rel_id: Option<Option<Uuid>>,
    pub status: Option<String>,
    pub assigned_to: Option<Option<Uuid>>,
    pub unread_count: Option<i32>,
    pub last_message_id: Option<Option<Uuid>>,
    pub last_message_at: Option<Option<DateTime<Utc>>>,
    pub last_message_preview: Option<Option<String>>,
    pub session_expires_at: Option<Option<DateTime<Utc>>>,
    pub snooze_until: Option<Option<DateTime<Utc>>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone)]
pub struct ConversationFilter {
    pub rel_type: Option<String>,
    pub status: Option<String>,
    pub number_id: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
    pub unread: Option<bool>,
    /// Case-insensitive search in the profile name, the phone and message text.
    pub search: Option<String>,
    /// Only conversations assigned to this staff member or to nobody.
    pub visible_to: Option<Uuid>,
}

/// The conversation of this number and customer, created if new, and locked
/// (`FOR UPDATE`) for the rest of the caller's transaction so concurrent
/// messages of one conversation apply one after the other.
pub async fn lock_or_create(
    conn: &mut AsyncPgConnection,
    number_id: Uuid,
    customer_phone: &str,
) -> StoreResult<Conversation> {
    lock_or_create_many(conn, &[(number_id, customer_phone.to_owned())])
        .await?
        .pop()
        .ok_or(crate::StoreError::NotFound)
}

/// [`lock_or_create`] for many (number, customer phone) pairs at once: the
/// missing ones are created, and every one is locked, in id order so that
/// concurrent batches lock the rows they share in the same order.
pub async fn lock_or_create_many(
    conn: &mut AsyncPgConnection,
    keys: &[(Uuid, String)],
) -> StoreResult<Vec<Conversation>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut sorted = keys.to_vec();
    sorted.sort();
    sorted.dedup();
    let rows: Vec<_> = sorted
        .iter()
        .map(|(number_id, phone)| {
            (
                conversations::id.eq(Uuid::now_v7()),
                conversations::number_id.eq(*number_id),
                conversations::customer_phone.eq(phone.as_str()),
            )
        })
        .collect();
    diesel::insert_into(conversations::table)
        .values(rows)
        .on_conflict((conversations::number_id, conversations::customer_phone))
        .do_nothing()
        .execute(conn)
        .await?;
    let numbers: Vec<Uuid> = sorted.iter().map(|(number, _)| *number).collect();
    let phones: Vec<&str> = sorted.iter().map(|(_, phone)| phone.as_str()).collect();
    // A join with the pairs, not `number_id = ANY(..) AND customer_phone =
    // ANY(..)`: with one business number that filter read every conversation
    // of the number (measured by bench/ingest).
    Ok(diesel::sql_query(
        "SELECT c.* FROM conversations AS c
         JOIN unnest($1::uuid[], $2::text[]) AS k (number_id, customer_phone)
           ON c.number_id = k.number_id AND c.customer_phone = k.customer_phone
         ORDER BY c.id
         FOR UPDATE OF c",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(numbers)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(phones)
    .load(conn)
    .await?)
}

/// Writes what an inbound message changes (the link to the CRM, status,
/// unread count, last message, window, snooze) for each of `rows`, in one
/// statement. The rows must be locked by the caller's transaction.
pub async fn save_inbound(conn: &mut AsyncPgConnection, rows: &[Conversation]) -> StoreResult<()> {
    use diesel::sql_types::{Array, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    if rows.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE conversations AS c SET
             profile_name = v.profile_name, rel_type = v.rel_type, rel_id = v.rel_id,
             status = v.status, unread_count = v.unread_count,
             last_message_id = v.last_message_id, last_message_at = v.last_message_at,
             last_message_preview = v.last_message_preview,
             session_expires_at = v.session_expires_at, snooze_until = v.snooze_until,
             updated_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::int4[],
                     $7::uuid[], $8::timestamptz[], $9::text[], $10::timestamptz[],
                     $11::timestamptz[])
             AS v(id, profile_name, rel_type, rel_id, status, unread_count, last_message_id,
                  last_message_at, last_message_preview, session_expires_at, snooze_until)
         WHERE c.id = v.id",
    )
    .bind::<Array<SqlUuid>, _>(rows.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(
        rows.iter()
            .map(|c| c.profile_name.clone())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Text>, _>(rows.iter().map(|c| c.rel_type.clone()).collect::<Vec<_>>())
    .bind::<Array<Nullable<SqlUuid>>, _>(rows.iter().map(|c| c.rel_id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|c| c.status.clone()).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(rows.iter().map(|c| c.unread_count).collect::<Vec<_>>())
    .bind::<Array<Nullable<SqlUuid>>, _>(rows.iter().map(|c| c.last_message_id).collect::<Vec<_>>())
    .bind::<Array<Nullable<Timestamptz>>, _>(
        rows.iter().map(|c| c.last_message_at).collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<Text>>, _>(
        rows.iter()
            .map(|c| c.last_message_preview.clone())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<Timestamptz>>, _>(
        rows.iter()
            .map(|c| c.session_expires_at)
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<Timestamptz>>, _>(
        rows.iter().map(|c| c.snooze_until).collect::<Vec<_>>(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Conversation> {
    Ok(conversations::table
        .find(id)
        .select(Conversation::as_select())
        .first(conn)
        .await?)
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    mut changes: ConversationChanges,
) -> StoreResult<Conversation> {
    changes.updated_at = Some(Utc::now());
    Ok(diesel::update(conversations::table.find(id))
        .set(changes)
        .returning(Conversation::as_returning())
        .get_result(conn)
        .await?)
}

type Boxed<'a, S> = conversations::BoxedQuery<'a, diesel::pg::Pg, S>;

fn filtered<'a, S: 'a>(filter: &ConversationFilter, mut query: Boxed<'a, S>) -> Boxed<'a, S> {
    if let Some(rel_type) = &filter.rel_type {
        query = query.filter(conversations::rel_type.eq(rel_type.clone()));
    }
    if let Some(status) = &filter.status {
        query = query.filter(conversations::status.eq(status.clone()));
    }
    if let Some(number_id) = filter.number_id {
        query = query.filter(conversations::number_id.eq(number_id));
    }
    if let Some(staff) = filter.assigned_to {
        query = query.filter(conversations::assigned_to.eq(staff));
    }
    match filter.unread {
        Some(true) => query = query.filter(conversations::unread_count.gt(0)),
        Some(false) => query = query.filter(conversations::unread_count.eq(0)),
        None => {}
    }
    if let Some(staff) = filter.visible_to {
        query = query.filter(
            conversations::assigned_to
                .is_null()
                .or(conversations::assigned_to.eq(staff)),
        );
    }
    if let Some(search) = &filter.search {
        let pattern = crate::like_pattern(search);
        let in_messages = messages::table
            .filter(messages::conversation_id.eq(conversations::id))
            .filter(messages::body.ilike(pattern.clone()));
        query = query.filter(
            conversations::profile_name
                .ilike(pattern.clone())
                .or(conversations::customer_phone.ilike(pattern))
                .or(diesel::dsl::exists(in_messages)),
        );
    }
    query
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &ConversationFilter,
    page: PageRequest,
) -> StoreResult<Page<Conversation>> {
    let query = filtered(
        filter,
        conversations::table
            .select(Conversation::as_select())
            .into_boxed(),
    );
    let rows = crate::paginate!(query, conversations::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |conversation| conversation.id))
}

/// How many conversations of each rel type match `filter` (its `rel_type` ignored).
pub async fn count_by_rel_type(
    conn: &mut AsyncPgConnection,
    filter: &ConversationFilter,
    rel_types: &[&str],
) -> StoreResult<Vec<(String, i64)>> {
    let mut counts = Vec::with_capacity(rel_types.len());
    for rel_type in rel_types {
        let filter = ConversationFilter {
            rel_type: Some((*rel_type).to_owned()),
            ..filter.clone()
        };
        let query = filtered(
            &filter,
            conversations::table
                .select(diesel::dsl::count_star())
                .into_boxed(),
        );
        counts.push(((*rel_type).to_owned(), query.first(conn).await?));
    }
    Ok(counts)
}

/// Reopens snoozed conversations whose `snooze_until` has passed; their ids.
pub async fn wake_snoozed(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Uuid>> {
    Ok(diesel::update(
        conversations::table
            .filter(conversations::status.eq("snoozed"))
            .filter(conversations::snooze_until.le(now)),
    )
    .set((
        conversations::status.eq("open"),
        conversations::snooze_until.eq(None::<DateTime<Utc>>),
        conversations::updated_at.eq(now),
    ))
    .returning(conversations::id)
    .get_results(conn)
    .await?)
}

/// The conversation, locked for the rest of the caller's transaction.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Conversation> {
    Ok(conversations::table
        .find(id)
        .select(Conversation::as_select())
        .for_update()
        .first(conn)
        .await?)
}
