//! Conversations: one per business number and customer, the customer named by
//! phone, by Meta's business-scoped user id, or both.
//!
//! A customer first known by one identifier and later by both keeps one
//! conversation: the missing identifier is filled in (linked). When two
//! conversations turn out to be the same person (one by phone, one by user id),
//! they are merged into the older one (the smaller UUIDv7 id): its messages,
//! tickets and bot memory move over, unread counts add up, the latest message,
//! the later window, and whichever assignment, name and CRM link exist are kept.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::bulk::rows_per_insert;
use crate::error::StoreResult;
use crate::prepared::PreparedExt as _;
use crate::schema::conversations;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = conversations)]
pub struct Conversation {
    pub id: Uuid,
    pub number_id: Uuid,
    /// E.164 digits without `+`; `None` while only the user id is known.
    pub customer_phone: Option<String>,
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
    /// Meta's business-scoped user id for the customer, when known.
    pub customer_user_id: Option<String>,
    /// The customer's WhatsApp username, when they have one.
    pub customer_username: Option<String>,
    /// When wacrm recorded the latest inbound or outbound message (the inbox
    /// order; see `inbox`). Only ever moves forward.
    pub last_activity_at: DateTime<Utc>,
}

/// Who a conversation is with, on which of our numbers: the customer's phone
/// (E.164 digits), Meta's business-scoped user id, or both (at least one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerKey {
    pub number_id: Uuid,
    pub phone: Option<String>,
    pub user_id: Option<String>,
}

impl CustomerKey {
    pub fn phone(number_id: Uuid, phone: &str) -> Self {
        Self {
            number_id,
            phone: Some(phone.to_owned()),
            user_id: None,
        }
    }

    /// Whether `row` is this customer's conversation by either identifier.
    fn matches(&self, row: &Conversation) -> bool {
        let same =
            |ours: &Option<String>, theirs: &Option<String>| ours.is_some() && ours == theirs;
        row.number_id == self.number_id
            && (same(&self.phone, &row.customer_phone)
                || same(&self.user_id, &row.customer_user_id))
    }

    fn is_empty(&self) -> bool {
        self.phone.is_none() && self.user_id.is_none()
    }
}

/// Conversations locked for the caller's transaction, and which one each
/// customer key resolved to.
#[derive(Debug, Default)]
pub struct Locked {
    pub rows: HashMap<Uuid, Conversation>,
    pub of_key: HashMap<CustomerKey, Uuid>,
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

/// The conversation of this number and customer phone, created if new, and
/// locked (`FOR UPDATE`) for the rest of the caller's transaction so concurrent
/// messages of one conversation apply one after the other.
pub async fn lock_or_create(
    conn: &mut AsyncPgConnection,
    number_id: Uuid,
    customer_phone: &str,
) -> StoreResult<Conversation> {
    let key = CustomerKey::phone(number_id, customer_phone);
    let mut locked = lock_or_create_many(conn, std::slice::from_ref(&key)).await?;
    locked
        .of_key
        .get(&key)
        .and_then(|id| locked.rows.remove(id))
        .ok_or(crate::StoreError::NotFound)
}

/// [`lock_or_create`] for many customers at once, by phone, user id or both:
/// the missing ones are created, every one is locked, in id order so that
/// concurrent batches lock the rows they share in the same order; a customer
/// known by one identifier gets the other linked, and two conversations of one
/// customer are merged (see the module comment).
///
/// Creating and locking are one statement each whatever the number of keys;
/// linking is one more when some conversation gained an identifier, merging a
/// few per merge (rare: it needs a customer first seen by user id alone).
pub async fn lock_or_create_many(
    conn: &mut AsyncPgConnection,
    keys: &[CustomerKey],
) -> StoreResult<Locked> {
    let mut sorted: Vec<CustomerKey> = keys.iter().filter(|key| !key.is_empty()).cloned().collect();
    sorted.sort();
    sorted.dedup();
    if sorted.is_empty() {
        return Ok(Locked::default());
    }
    let rows: Vec<_> = sorted
        .iter()
        .map(|key| {
            (
                conversations::id.eq(Uuid::now_v7()),
                conversations::number_id.eq(key.number_id),
                conversations::customer_phone.eq(key.phone.clone()),
                conversations::customer_user_id.eq(key.user_id.clone()),
            )
        })
        .collect();
    // Any unique key may conflict (phone or user id): a customer known by
    // either already has a conversation.
    // A batch may name any number of customers; a row binds 4 parameters.
    let mut created: Vec<Uuid> = Vec::new();
    for chunk in rows.chunks(rows_per_insert(4)) {
        created.extend(
            diesel::insert_into(conversations::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .returning(conversations::id)
                .get_results::<Uuid>(conn)
                .await?,
        );
    }
    let rows = lock_matching(conn, &sorted).await?;
    let mut locked = Locked {
        rows: rows.into_iter().map(|row| (row.id, row)).collect(),
        of_key: HashMap::new(),
    };
    let mut index = RowIndex::new(&locked.rows);
    let mut linked: Vec<Uuid> = Vec::new();
    for key in sorted {
        let (survivor, merged) = settle(conn, &mut locked.rows, &mut index, &key).await?;
        let row = locked
            .rows
            .get_mut(&survivor)
            .ok_or(crate::StoreError::NotFound)?;
        // A message's identifiers are current: a missing phone is filled in, and
        // the user id is the message's (Meta gives a new one with a new number).
        // A merged conversation has taken the other's identifiers in memory only.
        let mut changed = merged;
        if row.customer_phone.is_none() && key.phone.is_some() {
            row.customer_phone.clone_from(&key.phone);
            changed = true;
        }
        if key.user_id.is_some() && row.customer_user_id != key.user_id {
            row.customer_user_id.clone_from(&key.user_id);
            changed = true;
        }
        if changed {
            index.add(row);
            if !linked.contains(&survivor) {
                linked.push(survivor);
            }
        }
        locked.of_key.insert(key, survivor);
    }
    let linked: Vec<&Conversation> = linked.iter().filter_map(|id| locked.rows.get(id)).collect();
    save_identities(conn, &linked).await?;
    // New conversations are announced (integrators' `conversation.created`)
    // by the transaction that made them; one merged away at once never was.
    let created: Vec<serde_json::Value> = created
        .iter()
        .filter_map(|id| locked.rows.get(id))
        .map(|row| {
            serde_json::json!({"type": "conversation.created", "conversation_id": row.id,
                "number_id": row.number_id})
        })
        .collect();
    crate::events::publish_all(conn, &created).await?;
    Ok(locked)
}

/// Moves the conversation of `previous` to the identity `current` (a customer
/// who changed number or user id): the parts `current` names replace the old
/// ones, and a conversation already held by `current` is merged in. `None` when
/// no conversation is `previous`'s.
pub async fn change_identity(
    conn: &mut AsyncPgConnection,
    previous: &CustomerKey,
    current: &CustomerKey,
) -> StoreResult<Option<Conversation>> {
    if previous.is_empty() || current.is_empty() {
        return Ok(None);
    }
    let keys = [previous.clone(), current.clone()];
    let mut rows: HashMap<Uuid, Conversation> = lock_matching(conn, &keys)
        .await?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    if !rows.values().any(|row| previous.matches(row)) {
        return Ok(None);
    }
    // Both identities are one customer now: one conversation for them.
    let mut index = RowIndex::new(&rows);
    let (mut survivor, _) = settle(conn, &mut rows, &mut index, previous).await?;
    if rows
        .values()
        .any(|row| row.id != survivor && current.matches(row))
    {
        let ids: Vec<Uuid> = rows.keys().copied().collect();
        for id in ids {
            if id != survivor {
                survivor = merge_pair(conn, &mut rows, &mut index, survivor, id).await?;
            }
        }
    }
    let mut row = rows.remove(&survivor).ok_or(crate::StoreError::NotFound)?;
    if current.phone.is_some() {
        row.customer_phone.clone_from(&current.phone);
    }
    if current.user_id.is_some() {
        row.customer_user_id.clone_from(&current.user_id);
    }
    save_identities(conn, &[&row]).await?;
    Ok(Some(row))
}

/// Locks every conversation that any of `keys` names, by phone or by user id.
async fn lock_matching(
    conn: &mut AsyncPgConnection,
    keys: &[CustomerKey],
) -> StoreResult<Vec<Conversation>> {
    use diesel::sql_types::{Array, Text, Uuid as SqlUuid};
    let (phone_numbers, phones): (Vec<Uuid>, Vec<&str>) = keys
        .iter()
        .filter_map(|key| Some((key.number_id, key.phone.as_deref()?)))
        .unzip();
    let (user_numbers, user_ids): (Vec<Uuid>, Vec<&str>) = keys
        .iter()
        .filter_map(|key| Some((key.number_id, key.user_id.as_deref()?)))
        .unzip();
    // Joins with the pairs, not `number_id = ANY(..) AND customer_phone =
    // ANY(..)`: with one business number that filter read every conversation
    // of the number (measured by bench/ingest). One join per identifier, so
    // each uses its own unique index.
    //
    // Found first, locked second: a row a concurrent batch updated is locked
    // by PostgreSQL's re-check of the locking statement's WHERE clause, and a
    // re-check through these joins dropped rows that still matched (measured:
    // a key with no row after its insert had conflicted, so the batch fell
    // back to one event at a time). `id = ANY(..)` re-checks exactly.
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let found: Vec<Found> = diesel::sql_query(
        "SELECT p.id FROM conversations AS p
         JOIN unnest($1::uuid[], $2::text[]) AS k (number_id, customer_phone)
           ON p.number_id = k.number_id AND p.customer_phone = k.customer_phone
         UNION
         SELECT u.id FROM conversations AS u
         JOIN unnest($3::uuid[], $4::text[]) AS k (number_id, customer_user_id)
           ON u.number_id = k.number_id AND u.customer_user_id = k.customer_user_id",
    )
    .bind::<Array<SqlUuid>, _>(phone_numbers)
    .bind::<Array<Text>, _>(phones)
    .bind::<Array<SqlUuid>, _>(user_numbers)
    .bind::<Array<Text>, _>(user_ids)
    .prepared()
    .load(conn)
    .await?;
    let ids: Vec<Uuid> = found.into_iter().map(|row| row.id).collect();
    Ok(
        diesel::sql_query("SELECT * FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind::<Array<SqlUuid>, _>(ids)
            .prepared()
            .load(conn)
            .await?,
    )
}

/// Where the locked rows of each phone and user id are, so that settling each
/// of a batch's keys looks up its rows instead of scanning them all (a batch of
/// 16,000 new customers was quadratic). A merged-away row points to the row that
/// took it over.
#[derive(Debug, Default)]
struct RowIndex {
    by_phone: HashMap<(Uuid, String), Vec<Uuid>>,
    by_user_id: HashMap<(Uuid, String), Vec<Uuid>>,
    merged_into: HashMap<Uuid, Uuid>,
}

impl RowIndex {
    fn new(rows: &HashMap<Uuid, Conversation>) -> Self {
        let mut index = Self::default();
        for row in rows.values() {
            index.add(row);
        }
        index
    }

    /// Files `row` under its identifiers (again, when it gained one).
    fn add(&mut self, row: &Conversation) {
        let file = |map: &mut HashMap<(Uuid, String), Vec<Uuid>>, value: &Option<String>| {
            if let Some(value) = value {
                let ids = map.entry((row.number_id, value.clone())).or_default();
                if !ids.contains(&row.id) {
                    ids.push(row.id);
                }
            }
        };
        file(&mut self.by_phone, &row.customer_phone);
        file(&mut self.by_user_id, &row.customer_user_id);
    }

    /// The rows that may be `key`'s, as they stand after the merges so far,
    /// in id order.
    fn candidates(&self, key: &CustomerKey) -> Vec<Uuid> {
        let lookup = |map: &HashMap<(Uuid, String), Vec<Uuid>>, value: &Option<String>| {
            value
                .as_ref()
                .and_then(|value| map.get(&(key.number_id, value.clone())))
                .cloned()
                .unwrap_or_default()
        };
        let mut ids: Vec<Uuid> = lookup(&self.by_phone, &key.phone)
            .into_iter()
            .chain(lookup(&self.by_user_id, &key.user_id))
            .map(|mut id| {
                while let Some(survivor) = self.merged_into.get(&id) {
                    id = *survivor;
                }
                id
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// The one conversation `key` names among the locked `rows`: when it names
/// two (by phone and by user id), the younger is merged into the older.
/// Answers it, and whether a merge happened.
async fn settle(
    conn: &mut AsyncPgConnection,
    rows: &mut HashMap<Uuid, Conversation>,
    index: &mut RowIndex,
    key: &CustomerKey,
) -> StoreResult<(Uuid, bool)> {
    let ids: Vec<Uuid> = index
        .candidates(key)
        .into_iter()
        .filter(|id| rows.get(id).is_some_and(|row| key.matches(row)))
        .collect();
    let mut ids = ids.into_iter();
    let mut survivor = ids.next().ok_or(crate::StoreError::NotFound)?;
    let mut merged = false;
    for other in ids {
        survivor = merge_pair(conn, rows, index, survivor, other).await?;
        merged = true;
    }
    Ok((survivor, merged))
}

/// Merges `b` into `a` or `a` into `b`, whichever is younger goes; answers the
/// one that stays, updated in `rows`.
async fn merge_pair(
    conn: &mut AsyncPgConnection,
    rows: &mut HashMap<Uuid, Conversation>,
    index: &mut RowIndex,
    a: Uuid,
    b: Uuid,
) -> StoreResult<Uuid> {
    let (keep, gone) = if a < b { (a, b) } else { (b, a) };
    let merged = merge(conn, keep, gone).await?;
    rows.remove(&gone);
    rows.insert(keep, merged);
    index.merged_into.insert(gone, keep);
    Ok(keep)
}

/// Moves everything of conversation `gone` into `keep` and deletes `gone`
/// (both locked by the caller). `keep` takes `gone`'s identifiers it lacks.
async fn merge(conn: &mut AsyncPgConnection, keep: Uuid, gone: Uuid) -> StoreResult<Conversation> {
    use diesel::sql_types::Uuid as SqlUuid;
    tracing::info!(%keep, %gone, "two conversations of one customer merged");
    for statement in [
        "UPDATE messages SET conversation_id = $1 WHERE conversation_id = $2",
        "UPDATE tickets SET conversation_id = $1 WHERE conversation_id = $2",
        // The bot memory of `keep` wins; `gone`'s goes with it otherwise.
        "UPDATE conversation_bots SET conversation_id = $1 WHERE conversation_id = $2
           AND NOT EXISTS (SELECT 1 FROM conversation_bots WHERE conversation_id = $1)",
    ] {
        diesel::sql_query(statement)
            .bind::<SqlUuid, _>(keep)
            .bind::<SqlUuid, _>(gone)
            .prepared()
            .execute(conn)
            .await?;
    }
    let mut merged: Conversation = diesel::sql_query(
        "UPDATE conversations AS k SET
             unread_count = k.unread_count + g.unread_count,
             assigned_to = COALESCE(k.assigned_to, g.assigned_to),
             profile_name = COALESCE(k.profile_name, g.profile_name),
             customer_username = COALESCE(k.customer_username, g.customer_username),
             rel_type = CASE WHEN k.rel_type = 'general' THEN g.rel_type ELSE k.rel_type END,
             rel_id = CASE WHEN k.rel_type = 'general' THEN g.rel_id ELSE k.rel_id END,
             session_expires_at = GREATEST(k.session_expires_at, g.session_expires_at),
             last_message_id = CASE WHEN k.last_message_at IS NULL OR g.last_message_at > k.last_message_at
                 THEN g.last_message_id ELSE k.last_message_id END,
             last_message_preview = CASE WHEN k.last_message_at IS NULL OR g.last_message_at > k.last_message_at
                 THEN g.last_message_preview ELSE k.last_message_preview END,
             last_message_at = GREATEST(k.last_message_at, g.last_message_at),
             last_activity_at = GREATEST(k.last_activity_at, g.last_activity_at),
             updated_at = now()
         FROM conversations AS g
         WHERE k.id = $1 AND g.id = $2
         RETURNING k.*",
    )
    .bind::<SqlUuid, _>(keep)
    .bind::<SqlUuid, _>(gone)
    .prepared()
    .get_result(conn)
    .await?;
    let gone_row: Conversation = diesel::delete(conversations::table.find(gone))
        .returning(Conversation::as_returning())
        .get_result(conn)
        .await?;
    // Written by the caller with the rest of the identity, now that `gone` no
    // longer holds them.
    if merged.customer_phone.is_none() {
        merged.customer_phone = gone_row.customer_phone;
    }
    if merged.customer_user_id.is_none() {
        merged.customer_user_id = gone_row.customer_user_id;
    }
    Ok(merged)
}

/// Writes the phone and user id of each of `rows`, in one statement.
async fn save_identities(conn: &mut AsyncPgConnection, rows: &[&Conversation]) -> StoreResult<()> {
    use diesel::sql_types::{Array, Nullable, Text, Uuid as SqlUuid};
    if rows.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE conversations AS c SET
             customer_phone = v.customer_phone, customer_user_id = v.customer_user_id,
             updated_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(id, customer_phone, customer_user_id)
         WHERE c.id = v.id",
    )
    .bind::<Array<SqlUuid>, _>(rows.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(
        rows.iter()
            .map(|c| c.customer_phone.clone())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<Text>>, _>(
        rows.iter()
            .map(|c| c.customer_user_id.clone())
            .collect::<Vec<_>>(),
    )
    .prepared()
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes what an inbound message (or a Business app echo) changes (the link to
/// the CRM, status, unread count, last message, window, snooze, username) for
/// each of `rows`, in one statement, and moves each to the top of the inbox:
/// every row passed has just received a message. The rows must be locked by
/// the caller's transaction.
pub async fn save_inbound(conn: &mut AsyncPgConnection, rows: &[Conversation]) -> StoreResult<()> {
    use diesel::sql_types::{Array, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    if rows.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE conversations AS c SET
             profile_name = v.profile_name, customer_username = v.customer_username,
             rel_type = v.rel_type, rel_id = v.rel_id,
             status = v.status, unread_count = v.unread_count,
             last_message_id = v.last_message_id, last_message_at = v.last_message_at,
             last_message_preview = v.last_message_preview,
             session_expires_at = v.session_expires_at, snooze_until = v.snooze_until,
             last_activity_at = GREATEST(c.last_activity_at, now()),
             updated_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::int4[],
                     $7::uuid[], $8::timestamptz[], $9::text[], $10::timestamptz[],
                     $11::timestamptz[], $12::text[])
             AS v(id, profile_name, rel_type, rel_id, status, unread_count, last_message_id,
                  last_message_at, last_message_preview, session_expires_at, snooze_until,
                  customer_username)
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
    .bind::<Array<Nullable<Text>>, _>(
        rows.iter()
            .map(|c| c.customer_username.clone())
            .collect::<Vec<_>>(),
    )
    .prepared()
    .execute(conn)
    .await?;
    Ok(())
}

/// Records an outbound message queued in the conversation: its last message,
/// and activity now (the inbox moves it to the top).
pub async fn record_outbound(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    message_id: Uuid,
    at: DateTime<Utc>,
    preview: &str,
) -> StoreResult<Conversation> {
    use diesel::dsl::sql;
    use diesel::sql_types::Timestamptz;
    Ok(diesel::update(conversations::table.find(id))
        .set((
            conversations::last_message_id.eq(Some(message_id)),
            conversations::last_message_at.eq(Some(at)),
            conversations::last_message_preview.eq(Some(preview)),
            conversations::last_activity_at.eq(sql::<Timestamptz>(
                "GREATEST(conversations.last_activity_at, now())",
            )),
            conversations::updated_at.eq(Utc::now()),
        ))
        .returning(Conversation::as_returning())
        .get_result(conn)
        .await?)
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

/// The conversations of `ids` that exist, in id order, unlocked.
pub async fn find_all(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> StoreResult<Vec<Conversation>> {
    Ok(conversations::table
        .filter(conversations::id.eq_any(ids))
        .order(conversations::id)
        .select(Conversation::as_select())
        .load(conn)
        .await?)
}

/// The ids of the conversations `staff` may see under the inbox visibility
/// policy (assigned to them or to nobody), as a subquery for `eq_any`: what
/// other records carry a conversation's content (tickets, lead notes) filter by.
pub fn visible_ids(
    staff: Uuid,
) -> conversations::BoxedQuery<
    'static,
    diesel::pg::Pg,
    diesel::sql_types::Nullable<diesel::sql_types::Uuid>,
> {
    conversations::table
        .filter(
            conversations::assigned_to
                .is_null()
                .or(conversations::assigned_to.eq(staff)),
        )
        .select(conversations::id.nullable())
        .into_boxed()
}

/// [`record_outbound`] for many conversations in one statement: each
/// `(conversation, message, preview)` becomes its conversation's last message.
pub async fn record_outbound_many(
    conn: &mut AsyncPgConnection,
    sent: &[(Uuid, Uuid, String)],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if sent.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(sent.len());
    let mut messages = Vec::with_capacity(sent.len());
    let mut previews = Vec::with_capacity(sent.len());
    for (id, message, preview) in sent {
        ids.push(*id);
        messages.push(*message);
        previews.push(preview.clone());
    }
    diesel::sql_query(
        "UPDATE conversations c SET last_message_id = s.message_id, last_message_at = $4, \
           last_message_preview = s.preview, \
           last_activity_at = GREATEST(c.last_activity_at, now()), updated_at = now() \
         FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS s(id, message_id, preview) \
         WHERE c.id = s.id",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(messages)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(previews)
    .bind::<diesel::sql_types::Timestamptz, _>(at)
    .prepared()
    .execute(conn)
    .await?;
    Ok(())
}
