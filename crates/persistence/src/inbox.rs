//! The inbox as agents read it: conversations by last activity, filtered, in
//! keyset pages, and how many there are of each rel type.
//!
//! **Order.** Newest activity first: `last_activity_at` is when wacrm recorded
//! the conversation's latest inbound or outbound message, ties broken by id.
//! Every writer takes `GREATEST(old, now())`, so a conversation only ever moves
//! up.
//!
//! **Pages.** A page resumes strictly after the last `(last_activity_at, id)`
//! of the previous one. That key is a snapshot boundary: a conversation that
//! did not move since page 1 is listed exactly once, on its page; one that
//! moved above the boundary (a new message after the client read its page, or
//! while it paged) is not listed again further down: the client sees it at the
//! top when it reloads the first page (or through the stream). One that moved
//! but is still below the boundary is listed once, at its new place. Since keys
//! never decrease, no conversation can appear twice in one walk.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::conversations::Conversation;
use crate::error::StoreResult;
use crate::schema::{conversation_counts, conversations};

#[derive(Debug, Default, Clone)]
pub struct ConversationFilter {
    pub rel_type: Option<String>,
    pub status: Option<String>,
    pub number_id: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
    pub unread: Option<bool>,
    /// Case-insensitive substring search in the profile name, the phone, the
    /// user id, the username and message text.
    pub search: Option<String>,
    /// Only conversations assigned to this staff member or to nobody.
    pub visible_to: Option<Uuid>,
}

/// Where a page of the inbox resumes: strictly after this conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityKey {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl ActivityKey {
    pub fn of(conversation: &Conversation) -> Self {
        Self {
            at: conversation.last_activity_at,
            id: conversation.id,
        }
    }
}

#[derive(Debug)]
pub struct InboxPage {
    pub items: Vec<Conversation>,
    /// The key to resume after, when more conversations follow.
    pub next: Option<ActivityKey>,
}

/// The customer's searchable fields as one text: the expression of the trigram
/// index `conversations_search_trgm_idx` (migration 000016), character for
/// character, or the planner will not use it.
const SEARCH_FIELDS: &str = "(coalesce(conversations.profile_name, '') || E'\\x1f' || \
     coalesce(conversations.customer_phone, '') || E'\\x1f' || \
     coalesce(conversations.customer_user_id, '') || E'\\x1f' || \
     coalesce(conversations.customer_username, ''))";

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
        // The matching ids first, each side through its trigram index, rather
        // than an `OR` per conversation (which walks every conversation).
        query = query.filter(
            sql::<Bool>(&format!(
                "conversations.id IN (SELECT conversations.id FROM conversations WHERE {SEARCH_FIELDS} ILIKE "
            ))
            .bind::<Text, _>(pattern.clone())
            .sql(" UNION SELECT messages.conversation_id FROM messages WHERE messages.body ILIKE ")
            .bind::<Text, _>(pattern)
            .sql(")"),
        );
    }
    query
}

/// One page of conversations matching `filter`, by activity, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &ConversationFilter,
    after: Option<ActivityKey>,
    limit: i64,
) -> StoreResult<InboxPage> {
    let mut query = filtered(
        filter,
        conversations::table
            .select(Conversation::as_select())
            .into_boxed(),
    )
    .order((
        conversations::last_activity_at.desc(),
        conversations::id.desc(),
    ))
    .limit(limit + 1);
    if let Some(after) = after {
        // A row comparison: one range condition on the activity indexes.
        query = query.filter(
            sql::<Bool>("(conversations.last_activity_at, conversations.id) < (")
                .bind::<Timestamptz, _>(after.at)
                .sql(", ")
                .bind::<SqlUuid, _>(after.id)
                .sql(")"),
        );
    }
    let mut items: Vec<Conversation> = query.load(conn).await?;
    let more = items.len() > usize::try_from(limit).unwrap_or(0);
    items.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more {
        items.last().map(ActivityKey::of)
    } else {
        None
    };
    Ok(InboxPage { items, next })
}

/// Count rows above which a read folds them before summing.
const COMPACT_ABOVE: i64 = 10_000;

/// How many conversations of each rel type match `filter` (its `rel_type`
/// ignored). From the maintained counts (a sum over a few hundred rows) unless
/// the filter searches, which only the conversations themselves can answer.
pub async fn count_by_rel_type(
    conn: &mut AsyncPgConnection,
    filter: &ConversationFilter,
    rel_types: &[&str],
) -> StoreResult<Vec<(String, i64)>> {
    if filter.search.is_some() {
        return count_by_scan(conn, filter, rel_types).await;
    }
    let mut query = conversation_counts::table
        .group_by(conversation_counts::rel_type)
        .select((
            conversation_counts::rel_type,
            sql::<diesel::sql_types::BigInt>("coalesce(sum(n), 0)::int8"),
            diesel::dsl::count_star(),
        ))
        .into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(conversation_counts::status.eq(status.clone()));
    }
    if let Some(number_id) = filter.number_id {
        query = query.filter(conversation_counts::number_id.eq(number_id));
    }
    if let Some(staff) = filter.assigned_to {
        query = query.filter(conversation_counts::assigned_to.eq(staff));
    }
    if let Some(unread) = filter.unread {
        query = query.filter(conversation_counts::unread.eq(unread));
    }
    if let Some(staff) = filter.visible_to {
        query = query.filter(
            conversation_counts::assigned_to
                .is_null()
                .or(conversation_counts::assigned_to.eq(staff)),
        );
    }
    let sums: Vec<(String, i64, i64)> = query.load(conn).await?;
    if sums.iter().map(|(_, _, rows)| rows).sum::<i64>() > COMPACT_ABOVE {
        compact_counts(conn).await?;
    }
    Ok(rel_types
        .iter()
        .map(|rel_type| {
            let n = sums
                .iter()
                .find(|(name, _, _)| name == rel_type)
                .map_or(0, |(_, n, _)| *n);
            ((*rel_type).to_owned(), n)
        })
        .collect())
}

/// Counts straight from the conversations (a search: bounded by the trigram
/// indexes, and by the statement timeout).
async fn count_by_scan(
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

/// Folds the count rows into one per key (dropping keys that sum to zero);
/// answers whether it ran. One caller at a time (the others skip): the rows
/// deleted are those this snapshot sees, so rows appended meanwhile stay and
/// no change is lost or counted twice.
pub async fn compact_counts(conn: &mut AsyncPgConnection) -> StoreResult<bool> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = Bool)]
        locked: bool,
    }
    conn.transaction::<_, crate::StoreError, _>(async |conn| {
        let Locked { locked } = diesel::sql_query(
            "SELECT pg_try_advisory_xact_lock(hashtext('conversation_counts')) AS locked",
        )
        .get_result(&mut *conn)
        .await?;
        if !locked {
            return Ok(false);
        }
        diesel::sql_query(
            "WITH gone AS (DELETE FROM conversation_counts
                 RETURNING number_id, rel_type, status, assigned_to, unread, n)
             INSERT INTO conversation_counts (number_id, rel_type, status, assigned_to, unread, n)
             SELECT number_id, rel_type, status, assigned_to, unread, sum(n)
             FROM gone GROUP BY number_id, rel_type, status, assigned_to, unread
             HAVING sum(n) <> 0",
        )
        .execute(conn)
        .await?;
        Ok(true)
    })
    .await
}
