//! A run's recipients: materialised once when the run starts (one row per
//! phone, a snapshot of the audience and of the values its parameters read),
//! then claimed in batches by the run's dispatcher. A recipient's own status
//! only moves forward (pending -> queued | skipped | failed); its delivery is
//! its message's status.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::audiences::{self, Bind, Resolved, Sql};
use crate::error::StoreResult;
use crate::prepared::PreparedExt as _;
use crate::schema::campaign_recipients;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = campaign_recipients)]
pub struct Recipient {
    pub id: i64,
    pub run_id: Uuid,
    pub number_id: Uuid,
    pub phone: Option<String>,
    pub rel_type: String,
    pub rel_id: Option<Uuid>,
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub record: serde_json::Value,
    pub status: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub due_at: DateTime<Utc>,
    pub message_id: Option<Uuid>,
    pub queued_at: Option<DateTime<Utc>>,
    pub retries: i32,
}

/// The rows a run's recipients are made of, from `audience`: one per distinct
/// phone, as `phone, rel_type, rel_id, name, time_zone, record, status,
/// reason`. Records without a usable phone or blocklisted are `skipped` with
/// that reason, and opted-out phones too when `marketing` (only MARKETING
/// templates need consent). `record` keeps the values parameters read:
/// `name`, `phone`, `custom_fields`, and the `lead` or `contact` it came from.
fn push_rows(sql: &mut Sql, audience: &Resolved, marketing: bool) {
    sql.push(
        "SELECT r.phone, r.rel_type, r.rel_id, r.name, r.time_zone, \
         jsonb_strip_nulls(jsonb_build_object( \
           'name', r.name, 'phone', r.phone, 'custom_fields', r.custom_fields, \
           'lead', (SELECT jsonb_build_object('name', l.name, 'email', l.email, \
                      'status', ls.name, 'source', src.name) \
                    FROM leads l LEFT JOIN lead_statuses ls ON ls.id = l.status_id \
                    LEFT JOIN lead_sources src ON src.id = l.source_id \
                    WHERE r.rel_type = 'lead' AND l.id = r.rel_id), \
           'contact', (SELECT jsonb_build_object('name', c.name, 'email', c.email, 'company', c.company) \
                       FROM contacts c WHERE r.rel_type = 'contact' AND c.id = r.rel_id))) AS record, \
         CASE WHEN r.excluded IS NOT NULL THEN 'skipped' \
              WHEN r.consent = 'opted_out' AND ",
    )
    .bind(Bind::Bool(marketing))
    .push(
        " THEN 'skipped' ELSE 'pending' END AS status, \
         CASE WHEN r.excluded IS NOT NULL THEN r.excluded \
              WHEN r.consent = 'opted_out' AND ",
    )
    .bind(Bind::Bool(marketing))
    .push(" THEN 'opted_out' END AS reason FROM (");
    audiences::push_recipients_and_exclusions(sql, audience);
    sql.push(") r");
}

/// Writes the run's recipients ([`push_rows`]) in one statement, due at
/// `due_at`; returns how many rows were written.
pub async fn materialise(
    conn: &mut AsyncPgConnection,
    run_id: Uuid,
    number_id: Uuid,
    audience: &Resolved,
    marketing: bool,
    due_at: DateTime<Utc>,
) -> StoreResult<usize> {
    let mut sql = Sql::default();
    sql.push(
        "INSERT INTO campaign_recipients \
         (run_id, number_id, phone, rel_type, rel_id, name, time_zone, record, status, reason, due_at) \
         SELECT ",
    )
    .bind(Bind::Uuid(run_id))
    .push("::uuid, ")
    .bind(Bind::Uuid(number_id))
    .push("::uuid, s.*, ")
    .bind(Bind::Time(due_at))
    .push(" FROM (");
    push_rows(&mut sql, audience, marketing);
    sql.push(") s ON CONFLICT (run_id, phone) DO NOTHING");
    Ok(sql.into_query().execute(conn).await?)
}

/// A recipient a run would have if it started now.
#[derive(Debug, Clone, QueryableByName)]
pub struct Prospect {
    #[diesel(sql_type = Nullable<Text>)]
    pub phone: Option<String>,
    #[diesel(sql_type = Text)]
    pub rel_type: String,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub rel_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    pub record: serde_json::Value,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
}

/// The first `limit` recipients a run of `audience` would have now, those it
/// would send to first.
pub async fn prospects(
    conn: &mut AsyncPgConnection,
    audience: &Resolved,
    marketing: bool,
    limit: i64,
) -> StoreResult<Vec<Prospect>> {
    let mut sql = Sql::default();
    sql.push("SELECT s.phone, s.rel_type, s.rel_id, s.name, s.record, s.status, s.reason FROM (");
    push_rows(&mut sql, audience, marketing);
    sql.push(") s ORDER BY s.status = 'pending' DESC, s.rel_id LIMIT ")
        .bind(Bind::BigInt(limit));
    Ok(sql.into_query().load(conn).await?)
}

/// Up to `limit` pending recipients due by `now`, locked (others skip them)
/// until the transaction ends, oldest due first.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    run_id: Uuid,
    now: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<Recipient>> {
    Ok(campaign_recipients::table
        .filter(campaign_recipients::run_id.eq(run_id))
        .filter(campaign_recipients::status.eq("pending"))
        .filter(campaign_recipients::due_at.le(now))
        .order((campaign_recipients::due_at, campaign_recipients::id))
        .limit(limit)
        .select(Recipient::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await?)
}

/// Puts a pending recipient off until `due_at` (its quiet hours).
pub async fn defer(
    conn: &mut AsyncPgConnection,
    id: i64,
    due_at: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::update(campaign_recipients::table.find(id))
        .set(campaign_recipients::due_at.eq(due_at))
        .execute(conn)
        .await?;
    Ok(())
}

/// The recipient's message is in the outbox.
pub async fn mark_queued(
    conn: &mut AsyncPgConnection,
    id: i64,
    message_id: Uuid,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::update(campaign_recipients::table.find(id))
        .set((
            campaign_recipients::status.eq("queued"),
            campaign_recipients::message_id.eq(message_id),
            campaign_recipients::queued_at.eq(at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// [`mark_queued`] for many `(recipient, message)` in one statement.
pub async fn mark_queued_many(
    conn: &mut AsyncPgConnection,
    queued: &[(i64, Uuid)],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if queued.is_empty() {
        return Ok(());
    }
    let (ids, messages): (Vec<i64>, Vec<Uuid>) = queued.iter().copied().unzip();
    diesel::sql_query(
        "UPDATE campaign_recipients r SET status = 'queued', message_id = q.message_id, queued_at = $3 \
         FROM unnest($1::bigint[], $2::uuid[]) AS q(id, message_id) WHERE r.id = q.id",
    )
    .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(messages)
    .bind::<Timestamptz, _>(at)
    .prepared()
    .execute(conn)
    .await?;
    Ok(())
}

/// The recipient gets nothing: `status` is `skipped` or `failed`, with why.
pub async fn mark_unsent(
    conn: &mut AsyncPgConnection,
    id: i64,
    status: &str,
    reason: &str,
    detail: Option<&str>,
) -> StoreResult<()> {
    diesel::update(campaign_recipients::table.find(id))
        .set((
            campaign_recipients::status.eq(status),
            campaign_recipients::reason.eq(reason),
            campaign_recipients::detail.eq(detail),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Skips every recipient of the run still pending (a cancelled run).
pub async fn skip_pending(
    conn: &mut AsyncPgConnection,
    run_id: Uuid,
    reason: &str,
) -> StoreResult<usize> {
    Ok(diesel::update(
        campaign_recipients::table
            .filter(campaign_recipients::run_id.eq(run_id))
            .filter(campaign_recipients::status.eq("pending")),
    )
    .set((
        campaign_recipients::status.eq("skipped"),
        campaign_recipients::reason.eq(reason),
    ))
    .execute(conn)
    .await?)
}

/// When the run's earliest pending recipient is due; `None` when none is
/// pending. One probe of the pending index, however large the run: an
/// `ORDER BY … LIMIT 1`, not `min()`, which PostgreSQL read through every
/// pending entry when its statistics still counted the run as small; and
/// `'pending'` written out, so that a prepared plan can use the index
/// (`WHERE status = 'pending'`) whatever its parameters.
pub async fn next_due(
    conn: &mut AsyncPgConnection,
    run_id: Uuid,
) -> StoreResult<Option<DateTime<Utc>>> {
    #[derive(QueryableByName)]
    struct Due {
        #[diesel(sql_type = Timestamptz)]
        due_at: DateTime<Utc>,
    }
    let due: Option<Due> = diesel::sql_query(
        "SELECT due_at FROM campaign_recipients \
         WHERE run_id = $1 AND status = 'pending' ORDER BY due_at LIMIT 1",
    )
    .bind::<diesel::sql_types::Uuid, _>(run_id)
    .prepared()
    .get_result(conn)
    .await
    .optional()?;
    Ok(due.map(|due| due.due_at))
}

/// How many of the run's messages still wait in the outbox.
pub async fn unsent(conn: &mut AsyncPgConnection, run_id: Uuid) -> StoreResult<i64> {
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM campaign_recipients r JOIN messages m ON m.id = r.message_id \
         WHERE r.run_id = $1 AND r.status = 'queued' AND m.status = 'queued'",
    )
    .bind::<diesel::sql_types::Uuid, _>(run_id)
    .prepared()
    .get_result(conn)
    .await?;
    Ok(count.n)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Distinct phones campaigns queued to from `number_id` since `since`: what
/// the number's daily budget has used of the moving 24 hours.
pub async fn budget_used(
    conn: &mut AsyncPgConnection,
    number_id: Uuid,
    since: DateTime<Utc>,
) -> StoreResult<i64> {
    let count: Count = diesel::sql_query(
        "SELECT count(DISTINCT phone) AS n FROM campaign_recipients \
         WHERE number_id = $1 AND queued_at > $2",
    )
    .bind::<diesel::sql_types::Uuid, _>(number_id)
    .bind::<Timestamptz, _>(since)
    .prepared()
    .get_result(conn)
    .await?;
    Ok(count.n)
}

/// When the oldest send still counted against the budget leaves the window.
pub async fn oldest_in_budget(
    conn: &mut AsyncPgConnection,
    number_id: Uuid,
    since: DateTime<Utc>,
) -> StoreResult<Option<DateTime<Utc>>> {
    Ok(campaign_recipients::table
        .filter(campaign_recipients::number_id.eq(number_id))
        .filter(campaign_recipients::queued_at.gt(since))
        .select(diesel::dsl::min(campaign_recipients::queued_at))
        .first(conn)
        .await?)
}

/// Messages on `number_id` that the outbox has not sent yet (a campaign's,
/// and the conversations' replies): how far the campaigns run ahead of the
/// number's rate.
pub async fn waiting_in_outbox(conn: &mut AsyncPgConnection, number_id: Uuid) -> StoreResult<i64> {
    let count: Count = diesel::sql_query(
        // Read from their delivery jobs alone: a queue of a second or so of
        // the number's traffic, vacuumed every few seconds, whose payload
        // names the number. Joined to the conversations to find the number,
        // the count was planned through every conversation of the number
        // (12.7 ms a batch with 100,000 recipients); the queued messages were
        // read through a partial index that keeps an entry for every message
        // sent since the last vacuum of `messages` (19 ms a batch at 1,000/s).
        // Jobs queued before the payload named the number are not counted:
        // this only paces the dispatcher, and they are sent within seconds.
        "SELECT count(*) AS n FROM jobs \
          WHERE kind = 'deliver_message' AND status IN ('queued', 'running') \
            AND payload ->> 'number_id' = $1::text",
    )
    .bind::<diesel::sql_types::Uuid, _>(number_id)
    .prepared()
    .get_result(conn)
    .await?;
    Ok(count.n)
}

/// Of the campaign's latest `window` sends that have an outcome, how many
/// failed and how many there are.
pub async fn recent_failures(
    conn: &mut AsyncPgConnection,
    campaign_id: Uuid,
    window: i64,
) -> StoreResult<(i64, i64)> {
    #[derive(QueryableByName)]
    struct Ratio {
        #[diesel(sql_type = BigInt)]
        failed: i64,
        #[diesel(sql_type = BigInt)]
        decided: i64,
    }
    let ratio: Ratio = diesel::sql_query(
        // The latest of each run from its own index (`campaign_recipients_latest_idx`),
        // then the latest of those: never every recipient of the campaign.
        "SELECT count(*) FILTER (WHERE m.status = 'failed') AS failed, count(*) AS decided FROM ( \
           SELECT per_run.message_id FROM campaign_runs u CROSS JOIN LATERAL ( \
             SELECT r.message_id, r.queued_at FROM campaign_recipients r \
             WHERE r.run_id = u.id AND r.message_id IS NOT NULL \
             ORDER BY r.queued_at DESC LIMIT $2) per_run \
           WHERE u.campaign_id = $1 ORDER BY per_run.queued_at DESC LIMIT $2) latest \
         JOIN messages m ON m.id = latest.message_id WHERE m.status <> 'queued'",
    )
    .bind::<diesel::sql_types::Uuid, _>(campaign_id)
    .bind::<BigInt, _>(window)
    .prepared()
    .get_result(conn)
    .await?;
    Ok((ratio.failed, ratio.decided))
}

/// A recipient as the API lists it: its own state, or its message's once
/// it has one (`sent`, `delivered`, `read`, `failed`).
#[derive(Debug, Clone, QueryableByName)]
pub struct RecipientView {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub phone: Option<String>,
    #[diesel(sql_type = Text)]
    pub rel_type: String,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub rel_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub detail: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub message_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub queued_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The effective status in SQL: the message's once the recipient is queued.
const EFFECTIVE_STATUS: &str =
    "CASE WHEN r.status = 'queued' THEN coalesce(m.status, 'queued') ELSE r.status END";

/// A page of the run's recipients in id order after `after`, optionally only
/// those whose effective status is `status`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    run_id: Uuid,
    status: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<RecipientView>> {
    let mut sql = Sql::default();
    sql.push(&format!(
        "SELECT r.id, r.phone, r.rel_type, r.rel_id, r.name, {EFFECTIVE_STATUS} AS status, \
           coalesce(r.reason, CASE WHEN m.status = 'failed' THEN coalesce(m.error ->> 'provider_code', m.error ->> 'code') END) AS reason, \
           coalesce(r.detail, CASE WHEN m.status = 'failed' THEN m.error ->> 'title' END) AS detail, \
           r.message_id, r.queued_at, m.updated_at \
         FROM campaign_recipients r LEFT JOIN messages m ON m.id = r.message_id \
         WHERE r.run_id = "
    ))
    .bind(Bind::Uuid(run_id));
    if let Some(status) = status {
        sql.push(&format!(" AND {EFFECTIVE_STATUS} = "))
            .bind(Bind::Text(status.to_owned()));
    }
    if let Some(after) = after {
        sql.push(" AND r.id > ").bind(Bind::BigInt(after));
    }
    sql.push(" ORDER BY r.id LIMIT ").bind(Bind::BigInt(limit));
    Ok(sql.into_query().load(conn).await?)
}

/// A run's funnel.
#[derive(Debug, Clone, Copy, Default, QueryableByName)]
pub struct Funnel {
    /// Recipients materialised (one per phone; skipped ones included).
    #[diesel(sql_type = BigInt)]
    pub audience: i64,
    #[diesel(sql_type = BigInt)]
    pub skipped: i64,
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    /// Handed to the outbox (whatever became of the send since: a message
    /// that failed stays counted here and among the failed).
    #[diesel(sql_type = BigInt)]
    pub queued: i64,
    #[diesel(sql_type = BigInt)]
    pub sent: i64,
    #[diesel(sql_type = BigInt)]
    pub delivered: i64,
    #[diesel(sql_type = BigInt)]
    pub read: i64,
    /// Wrote back within 72 hours of the send.
    #[diesel(sql_type = BigInt)]
    pub replied: i64,
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
    /// Opted out of marketing after the send.
    #[diesel(sql_type = BigInt)]
    pub opted_out_after: i64,
}

pub async fn funnel(conn: &mut AsyncPgConnection, run_id: Uuid) -> StoreResult<Funnel> {
    Ok(diesel::sql_query(
        "SELECT count(*) AS audience, \
           count(*) FILTER (WHERE r.status = 'skipped') AS skipped, \
           count(*) FILTER (WHERE r.status = 'pending') AS pending, \
           count(*) FILTER (WHERE r.queued_at IS NOT NULL) AS queued, \
           count(*) FILTER (WHERE m.status IN ('sent', 'delivered', 'read', 'played')) AS sent, \
           count(*) FILTER (WHERE m.status IN ('delivered', 'read', 'played')) AS delivered, \
           count(*) FILTER (WHERE m.status IN ('read', 'played')) AS read, \
           count(*) FILTER (WHERE m.id IS NOT NULL AND EXISTS ( \
               SELECT 1 FROM messages i WHERE i.conversation_id = m.conversation_id \
               AND i.direction = 'inbound' AND i.sent_at >= r.queued_at \
               AND i.sent_at < r.queued_at + interval '72 hours')) AS replied, \
           count(*) FILTER (WHERE r.status = 'failed' OR m.status = 'failed') AS failed, \
           count(*) FILTER (WHERE r.queued_at IS NOT NULL AND EXISTS ( \
               SELECT 1 FROM consent_history h WHERE h.phone = r.phone \
               AND h.state = 'opted_out' AND h.occurred_at > r.queued_at)) AS opted_out_after \
         FROM campaign_recipients r LEFT JOIN messages m ON m.id = r.message_id \
         WHERE r.run_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(run_id)
    .prepared()
    .get_result(conn)
    .await?)
}

/// How many of the run's recipients were skipped or failed for each reason
/// (a provider's failures by its error code).
pub async fn reasons(
    conn: &mut AsyncPgConnection,
    run_id: Uuid,
) -> StoreResult<Vec<(String, String, i64)>> {
    #[derive(QueryableByName)]
    struct Reason {
        #[diesel(sql_type = Text)]
        status: String,
        #[diesel(sql_type = Text)]
        reason: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<Reason> = diesel::sql_query(
        "SELECT CASE WHEN r.status = 'skipped' THEN 'skipped' ELSE 'failed' END AS status, \
           coalesce(r.reason, m.error ->> 'provider_code', m.error ->> 'code', 'unknown') AS reason, \
           count(*) AS n \
         FROM campaign_recipients r LEFT JOIN messages m ON m.id = r.message_id \
         WHERE r.run_id = $1 AND (r.status IN ('skipped', 'failed') OR m.status = 'failed') \
         GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2",
    )
    .bind::<diesel::sql_types::Uuid, _>(run_id)
    .prepared()
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.status, row.reason, row.n))
        .collect())
}

/// Ends the run's messages that are still waiting in the outbox (a cancelled
/// campaign): those whose send has not started are marked failed, so
/// delivery skips them. Returns how many.
pub async fn withdraw_unsent(conn: &mut AsyncPgConnection, run_id: Uuid) -> StoreResult<usize> {
    Ok(diesel::sql_query(
        "UPDATE messages m SET status = 'failed', updated_at = now(), \
           error = jsonb_build_object('code', 'campaign_cancelled', \
             'title', 'The campaign was cancelled before this message was sent', \
             'detail', NULL, 'provider_code', NULL) \
         FROM campaign_recipients r \
         WHERE r.run_id = $1 AND r.message_id = m.id AND m.status = 'queued' \
           AND m.send_started_at IS NULL",
    )
    .bind::<diesel::sql_types::Uuid, _>(run_id)
    .prepared()
    .execute(conn)
    .await?)
}

/// The recipient a campaign message was sent to, if it was one.
pub async fn of_message(
    conn: &mut AsyncPgConnection,
    message_id: Uuid,
) -> StoreResult<Option<Recipient>> {
    Ok(campaign_recipients::table
        .filter(campaign_recipients::message_id.eq(message_id))
        .select(Recipient::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Sends the recipient once more at `due_at` (its earlier message stays in
/// the conversation, failed).
pub async fn retry_later(
    conn: &mut AsyncPgConnection,
    id: i64,
    due_at: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::update(campaign_recipients::table.find(id))
        .set((
            campaign_recipients::status.eq("pending"),
            campaign_recipients::message_id.eq(None::<Uuid>),
            campaign_recipients::queued_at.eq(None::<DateTime<Utc>>),
            campaign_recipients::due_at.eq(due_at),
            campaign_recipients::retries.eq(campaign_recipients::retries + 1),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
