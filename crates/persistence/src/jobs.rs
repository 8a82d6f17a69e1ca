//! The background job queue's storage: enqueue (inside the caller's
//! transaction), claim, and the outcomes of an attempt.
//!
//! Two ways to hold a claim:
//! - **A lease**, for jobs that call a provider: the job is `running` until
//!   `locked_until` and no transaction is held while it runs; the runner renews
//!   the lease while the job runs ([`renew`]). When the lease runs out (the
//!   worker died) the next claim takes the job again, or buries it if that was
//!   its last attempt. Each claim has its own `claim_token`, and renewals and
//!   outcomes only apply while the token is still the claimer's.
//! - **A transaction**, for jobs that only touch the database: the job stays
//!   `queued` and the runner locks its row ([`lock_for_run`]) in the
//!   transaction that does the work and then deletes it or records the
//!   failure. A worker that dies mid-run releases the lock with its connection,
//!   so another runner takes the job over at once.
//!
//! Jobs with an `ordering_key` (a conversation's deliveries) are claimed in the
//! order they were queued (see [`ClaimRules::order_wait`]). Finished jobs are
//! deleted; dead ones stay for inspection until revived.

use std::io::Write as _;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use deadpool::managed::Manager as _;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::dsl::count_star;
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::prelude::*;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Array, BigInt, Interval, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::pool::PgPool;
use crate::prepared::PreparedExt as _;
use crate::schema::jobs;

/// The NOTIFY channel that wakes workers ([`notify`], after a commit).
pub const CHANNEL: &str = "wacrm_jobs";

/// A new job binds 5 parameters.
const MAX_ROWS_PER_INSERT: usize = crate::bulk::rows_per_insert(5);

/// Where a job is in its life. A finished job has no status: it is deleted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, AsExpression, FromSqlRow,
)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for `run_at`.
    Queued,
    /// Claimed by a worker until `locked_until`.
    Running,
    /// Failed for good (permanent error or out of attempts); kept until revived.
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Dead => "dead",
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job status `{0}`")]
pub struct UnknownJobStatus(pub String);

impl FromStr for JobStatus {
    type Err = UnknownJobStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "dead" => Ok(Self::Dead),
            other => Err(UnknownJobStatus(other.to_owned())),
        }
    }
}

impl ToSql<Text, Pg> for JobStatus {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.as_str().as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<Text, Pg> for JobStatus {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Pg>>::from_sql(value)?;
        Ok(text.parse()?)
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    pub unique_key: Option<String>,
    pub status: JobStatus,
    /// Attempts started so far, this one included while `running`.
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set by each leased claim; the claimer's proof that the lease is its own.
    pub claim_token: Option<uuid::Uuid>,
    /// Jobs with the same key are claimed in the order they were queued.
    pub ordering_key: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// While a queued or running job holds this key, the same key is not queued again.
    pub unique_key: Option<String>,
    /// `None`: now.
    pub run_at: Option<DateTime<Utc>>,
    pub max_attempts: i32,
    /// Jobs with the same key are claimed in the order they were queued.
    pub ordering_key: Option<String>,
}

/// How [`claim`] hands out jobs.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    /// How long a leased claim lasts unless renewed.
    pub lease: chrono::Duration,
    /// Kinds whose claim is held by a transaction ([`lock_for_run`]): returned
    /// still `queued`, without a lease.
    pub transactional_kinds: Vec<String>,
    /// How long an earlier job of the same ordering key that keeps failing
    /// holds the later ones back (counted from when it was queued). One that is
    /// running, or waiting for its first attempt, always does.
    pub order_wait: chrono::Duration,
    /// Transactional jobs the claimer is already running: their rows are not
    /// locked until their transaction begins, and must not be handed out twice.
    pub running_here: Vec<i64>,
    /// Only jobs of these kinds (`None`: of any kind), and none of
    /// `except`: a runner of its own for deliveries, say, and one for the rest.
    pub only: Option<Vec<String>>,
    pub except: Vec<String>,
    /// The application's clock at the claim: queued jobs whose `run_at` has
    /// come by then are due (a test's clock may run ahead of the database's;
    /// leases keep the database's time).
    pub now: DateTime<Utc>,
}

/// Where a page of jobs starts and how long it is (keyset on the `bigserial` id).
#[derive(Debug, Clone, Copy)]
pub struct JobPageRequest {
    /// The last id of the previous page, if any.
    pub after: Option<i64>,
    pub limit: i64,
}

/// Jobs newest first.
#[derive(Debug, Clone)]
pub struct JobPage {
    pub items: Vec<Job>,
    /// The id to resume after, when more rows exist.
    pub next: Option<i64>,
}

/// How many jobs are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobCounts {
    pub queued: i64,
    pub running: i64,
    pub dead: i64,
}

/// Queues a job; `None` when an active job with the same `unique_key` exists.
pub async fn enqueue(conn: &mut AsyncPgConnection, new: NewJob) -> StoreResult<Option<i64>> {
    Ok(diesel::insert_into(jobs::table)
        .values(new)
        .on_conflict_do_nothing()
        .returning(jobs::id)
        .get_result(conn)
        .await
        .optional()?)
}

/// Queues many jobs in one multi-row INSERT per 13,107; jobs whose
/// `unique_key` is already active are skipped.
pub async fn enqueue_many(conn: &mut AsyncPgConnection, new: Vec<NewJob>) -> StoreResult<()> {
    for chunk in new.chunks(MAX_ROWS_PER_INSERT) {
        diesel::insert_into(jobs::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Claims up to `limit` due jobs: queued jobs whose `run_at` has come (and
/// that no earlier job of their ordering key holds back), and running jobs
/// whose lease expired. A leased kind is marked `running` for `rules.lease`
/// with a new `claim_token`, and its attempt counted; a transactional kind is
/// returned as it is, for the runner to lock in its own transaction. An expired
/// job that already used its last attempt is buried instead and not returned.
/// Rows other workers hold are skipped, never waited for.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    limit: i64,
    rules: &ClaimRules,
) -> StoreResult<Vec<Job>> {
    let mut claimed: Vec<Job> = diesel::sql_query(
        // Two index-ordered scans rather than one `OR`: with the `OR`, PostgreSQL
        // reads and sorts every due job before the LIMIT (35 ms with 47,000
        // queued, measured by bench/ingest); each half here stops after $1 rows.
        // A job with an ordering key probes `jobs_ordering_key_active_idx` for an
        // earlier one of its key that still holds it back.
        "WITH queued AS (
             SELECT id, kind, false AS exhausted, false AS expired
             FROM jobs
             WHERE status = 'queued' AND run_at <= $6 AND NOT id = ANY($5)
               AND ($7::text[] IS NULL OR kind = ANY($7)) AND NOT kind = ANY($8)
               AND (ordering_key IS NULL OR NOT EXISTS (
                   SELECT 1 FROM jobs AS earlier
                   WHERE earlier.ordering_key = jobs.ordering_key
                     AND earlier.id < jobs.id
                     AND earlier.status IN ('queued', 'running')
                     AND (earlier.status = 'running'
                          OR earlier.attempts = 0
                          OR earlier.created_at > now() - $4)))
             ORDER BY run_at
             LIMIT $1
             FOR UPDATE SKIP LOCKED
         ), lapsed AS (
             SELECT id, kind, attempts >= max_attempts AS exhausted, true AS expired
             FROM jobs
             WHERE status = 'running' AND locked_until < now()
               AND ($7::text[] IS NULL OR kind = ANY($7)) AND NOT kind = ANY($8)
             ORDER BY locked_until
             LIMIT $1
             FOR UPDATE SKIP LOCKED
         ), due AS (
             (SELECT * FROM lapsed UNION ALL SELECT * FROM queued)
             LIMIT $1
         ), leased AS (
             UPDATE jobs SET
                 status = CASE WHEN due.exhausted THEN 'dead' ELSE 'running' END,
                 attempts = CASE WHEN due.exhausted THEN jobs.attempts ELSE jobs.attempts + 1 END,
                 locked_until = CASE WHEN due.exhausted THEN NULL ELSE now() + $2 END,
                 claim_token = CASE WHEN due.exhausted THEN NULL ELSE gen_random_uuid() END,
                 last_error = CASE
                     WHEN due.exhausted THEN 'the lease expired during the last attempt (worker died or hung)'
                     WHEN due.expired THEN 'the lease expired during the previous attempt (worker died or hung)'
                     ELSE jobs.last_error
                 END,
                 updated_at = now()
             FROM due
             WHERE jobs.id = due.id AND (due.expired OR NOT due.kind = ANY($3))
             RETURNING jobs.*
         )
         SELECT * FROM leased
         UNION ALL
         SELECT jobs.* FROM jobs JOIN due ON jobs.id = due.id
         WHERE NOT due.expired AND due.kind = ANY($3)",
    )
    .bind::<BigInt, _>(limit)
    .bind::<Interval, _>(rules.lease)
    .bind::<Array<Text>, _>(&rules.transactional_kinds)
    .bind::<Interval, _>(rules.order_wait)
    .bind::<Array<BigInt>, _>(&rules.running_here)
    .bind::<diesel::sql_types::Timestamptz, _>(rules.now)
    .bind::<diesel::sql_types::Nullable<Array<Text>>, _>(&rules.only)
    .bind::<Array<Text>, _>(&rules.except)
    .prepared()
    .load(conn)
    .await?;
    claimed.retain(|job| {
        let buried = job.status == JobStatus::Dead;
        if buried {
            tracing::warn!(
                job.id = job.id,
                job.kind = %job.kind,
                job.attempts = job.attempts,
                "job buried: its lease expired during its last attempt"
            );
        }
        !buried
    });
    Ok(claimed)
}

/// Extends the leases of the claims in `held` (job id, claim token) to
/// `lease` from now; returns the ids whose lease is still this claimer's. A
/// missing id was taken over (or finished elsewhere): its outcome must not be
/// recorded.
pub async fn renew(
    conn: &mut AsyncPgConnection,
    held: &[(i64, uuid::Uuid)],
    lease: chrono::Duration,
) -> StoreResult<Vec<i64>> {
    let (ids, tokens): (Vec<i64>, Vec<uuid::Uuid>) = held.iter().copied().unzip();
    Ok(diesel::sql_query(
        "UPDATE jobs SET locked_until = now() + $3
         FROM unnest($1::bigint[], $2::uuid[]) AS held(id, token)
         WHERE jobs.id = held.id AND jobs.claim_token = held.token
           AND jobs.status = 'running'
         RETURNING jobs.id",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<diesel::sql_types::Uuid>, _>(tokens)
    .bind::<Interval, _>(lease)
    .prepared()
    .load::<JobId>(conn)
    .await?
    .into_iter()
    .map(|row| row.id)
    .collect())
}

#[derive(QueryableByName)]
struct JobId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Locks the row of job `id` for the caller's transaction, unless another
/// transaction holds it, or the job is gone, dead or not due (another claimer
/// ran it meanwhile and it waits for a retry); returns the attempts it has had
/// when it did. The lock is the claim of a transactional job: it lasts as long
/// as the transaction, and ends with the connection.
///
/// Inside the transaction the job reads as `running`, so that the job's own
/// [`take_queued`] does not take it; others still see it `queued` (and
/// locked), and see it so again if the transaction dies.
pub async fn lock_for_run(
    conn: &mut AsyncPgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> StoreResult<Option<i32>> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        attempts: i32,
    }
    let locked: Option<Locked> = diesel::sql_query(
        "UPDATE jobs SET status = 'running'
         WHERE id = (
             SELECT id FROM jobs
             WHERE id = $1
               -- A running one was leased by a claim from before its kind held
               -- claims in transactions, and lapsed.
               AND ((status = 'queued' AND run_at <= $2) OR status = 'running')
             FOR UPDATE SKIP LOCKED
         )
         RETURNING attempts",
    )
    .bind::<BigInt, _>(id)
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .prepared()
    .get_result(conn)
    .await
    .optional()?;
    Ok(locked.map(|row| row.attempts))
}

/// Records a failed attempt of a transactional job (which holds no lease):
/// counted, and due again at `run_at`, or dead when `run_at` is `None`.
/// `NotFound` when the job is gone or dead.
pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    id: i64,
    error: &str,
    run_at: Option<DateTime<Utc>>,
) -> StoreResult<()> {
    let status = if run_at.is_some() {
        JobStatus::Queued
    } else {
        JobStatus::Dead
    };
    let updated = diesel::update(jobs::table.find(id))
        .filter(jobs::status.ne(JobStatus::Dead))
        .set((
            jobs::status.eq(status),
            jobs::attempts.eq(jobs::attempts + 1),
            jobs::run_at.eq(run_at.unwrap_or_else(Utc::now)),
            jobs::locked_until.eq(None::<DateTime<Utc>>),
            jobs::claim_token.eq(None::<uuid::Uuid>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    match updated {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Which claim an outcome belongs to: a lease (`Some(token)`) or the
/// transaction that locked the row (`None`).
pub type ClaimToken = Option<uuid::Uuid>;

/// The job succeeded: it is deleted. With a token, only while that claim
/// holds it: `NotFound` when it was taken over.
pub async fn complete(conn: &mut AsyncPgConnection, id: i64, token: ClaimToken) -> StoreResult<()> {
    let deleted = match token {
        Some(token) => {
            diesel::delete(jobs::table.find(id).filter(jobs::claim_token.eq(token)))
                .execute(conn)
                .await?
        }
        None => diesel::delete(jobs::table.find(id)).execute(conn).await?,
    };
    match deleted {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Removes the finished jobs in `held` (job id, claim token) in one
/// statement; returns the ids removed. A missing id was taken over (or
/// finished elsewhere) and is not this claimer's to remove.
pub async fn complete_many(
    conn: &mut AsyncPgConnection,
    held: &[(i64, uuid::Uuid)],
) -> StoreResult<Vec<i64>> {
    let (ids, tokens): (Vec<i64>, Vec<uuid::Uuid>) = held.iter().copied().unzip();
    Ok(diesel::sql_query(
        "DELETE FROM jobs USING unnest($1::bigint[], $2::uuid[]) AS held(id, token)
         WHERE jobs.id = held.id AND jobs.claim_token = held.token
         RETURNING jobs.id",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<diesel::sql_types::Uuid>, _>(tokens)
    .prepared()
    .load::<JobId>(conn)
    .await?
    .into_iter()
    .map(|row| row.id)
    .collect())
}

/// The running job failed and will be tried again at `run_at`.
/// `NotFound` when the job is not running under `token` (any more).
pub async fn retry_later(
    conn: &mut AsyncPgConnection,
    id: i64,
    token: uuid::Uuid,
    error: &str,
    run_at: DateTime<Utc>,
) -> StoreResult<()> {
    let updated = diesel::update(jobs::table.find(id))
        .filter(jobs::status.eq(JobStatus::Running))
        .filter(jobs::claim_token.eq(token))
        .set((
            jobs::status.eq(JobStatus::Queued),
            jobs::run_at.eq(run_at),
            jobs::locked_until.eq(None::<DateTime<Utc>>),
            jobs::claim_token.eq(None::<uuid::Uuid>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(Utc::now()),
        ))
        .prepared()
        .execute(conn)
        .await?;
    match updated {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// The running job failed for good: it is kept as dead with its error.
/// `NotFound` when the job is not running under `token` (any more).
pub async fn bury(
    conn: &mut AsyncPgConnection,
    id: i64,
    token: uuid::Uuid,
    error: &str,
) -> StoreResult<()> {
    let updated = diesel::update(jobs::table.find(id))
        .filter(jobs::status.eq(JobStatus::Running))
        .filter(jobs::claim_token.eq(token))
        .set((
            jobs::status.eq(JobStatus::Dead),
            jobs::locked_until.eq(None::<DateTime<Utc>>),
            jobs::claim_token.eq(None::<uuid::Uuid>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    match updated {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Jobs newest first, optionally only those in `status`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    status: Option<JobStatus>,
    page: JobPageRequest,
) -> StoreResult<JobPage> {
    let mut query = jobs::table
        .select(Job::as_select())
        .order(jobs::id.desc())
        .limit(page.limit.max(0) + 1)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(jobs::status.eq(status));
    }
    if let Some(after) = page.after {
        query = query.filter(jobs::id.lt(after));
    }
    let mut items: Vec<Job> = query.load(conn).await?;
    let limit = usize::try_from(page.limit).unwrap_or(0);
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items.last().map(|job| job.id)
    } else {
        None
    };
    Ok(JobPage { items, next })
}

pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> StoreResult<Job> {
    Ok(jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .await?)
}

/// A dead job gets a fresh set of attempts, due now; its last error is kept.
/// `NotFound` unless the job is dead; `Conflict` when an active job holds its
/// `unique_key`.
pub async fn revive(conn: &mut AsyncPgConnection, id: i64) -> StoreResult<Job> {
    let job = diesel::update(jobs::table.find(id))
        .filter(jobs::status.eq(JobStatus::Dead))
        .set((
            jobs::status.eq(JobStatus::Queued),
            jobs::attempts.eq(0),
            jobs::run_at.eq(diesel::dsl::now),
            jobs::locked_until.eq(None::<DateTime<Utc>>),
            jobs::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Job::as_returning())
        .get_result(conn)
        .await?;
    Ok(job)
}

/// Wakes the workers listening on [`CHANNEL`], on every node. Call it outside
/// any transaction that writes, after the jobs are committed: NOTIFY holds
/// PostgreSQL's global notify lock until its transaction's commit is flushed,
/// which makes concurrent writing transactions commit one at a time.
pub async fn notify(conn: &mut AsyncPgConnection) -> StoreResult<()> {
    diesel::sql_query("SELECT pg_notify($1, '')")
        .bind::<Text, _>(CHANNEL)
        .prepared()
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn count_by_status(conn: &mut AsyncPgConnection) -> StoreResult<JobCounts> {
    let rows: Vec<(JobStatus, i64)> = jobs::table
        .group_by(jobs::status)
        .select((jobs::status, count_star()))
        .load(conn)
        .await?;
    let mut counts = JobCounts::default();
    for (status, count) in rows {
        match status {
            JobStatus::Queued => counts.queued = count,
            JobStatus::Running => counts.running = count,
            JobStatus::Dead => counts.dead = count,
        }
    }
    Ok(counts)
}

/// A connection of its own (not from the pool, with the pool's settings) that
/// listens on [`CHANNEL`]; read it with `notifications_stream()`.
pub async fn listen(pool: &PgPool) -> StoreResult<AsyncPgConnection> {
    let mut conn = pool
        .manager()
        .create()
        .await
        .map_err(|error| StoreError::Pool(error.to_string()))?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

/// The queued and running jobs with any of `ordering_keys`, in one round
/// trip: each one's key and payload, in the order they were queued.
pub async fn active_with_ordering_keys(
    conn: &mut AsyncPgConnection,
    ordering_keys: &[String],
) -> StoreResult<Vec<(String, serde_json::Value)>> {
    if ordering_keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(Option<String>, serde_json::Value)> = jobs::table
        .filter(jobs::ordering_key.eq_any(ordering_keys))
        .filter(jobs::status.eq_any([JobStatus::Queued, JobStatus::Running]))
        .order(jobs::id)
        .select((jobs::ordering_key, jobs::payload))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, payload)| Some((key?, payload)))
        .collect())
}

/// Vacuums the queue tables: `jobs`, and the events waiting for the relay
/// (`event_relay`). Each job and each event is a row inserted and deleted,
/// a thousand a second under a campaign, and until a vacuum every claim and
/// every relay batch steps over the dead rows. Autovacuum comes by once a
/// minute (`autovacuum_naptime`): by then a busy queue holds some 60,000
/// dead rows (measured at 1,000 sends a second: a claim took 10 ms, and the
/// rate fell by a quarter). Both tables stay small, so this takes
/// milliseconds. Tables locked by someone else are skipped, not waited for;
/// no parallel worker is started for indexes this small (PostgreSQL launched
/// one for the jobs' indexes); and the tables are never truncated, which
/// would lock out every writer (their `vacuum_truncate`, see migration
/// `000027_queue_tables`).
pub async fn vacuum_queue_tables(conn: &mut AsyncPgConnection) -> StoreResult<()> {
    diesel::sql_query("VACUUM (SKIP_LOCKED, PARALLEL 0) jobs, event_relay")
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes the queued (not running) job holding `unique_key`; true if one was.
pub async fn cancel_queued(conn: &mut AsyncPgConnection, unique_key: &str) -> StoreResult<bool> {
    let removed = diesel::delete(
        jobs::table
            .filter(jobs::unique_key.eq(unique_key))
            .filter(jobs::status.eq(JobStatus::Queued)),
    )
    .execute(conn)
    .await?;
    Ok(removed > 0)
}

/// Takes over (deletes and returns) up to `limit` queued jobs of `kind` that
/// are due, oldest first, skipping any another worker is claiming. For a job
/// that can do the work of others of its kind in its own transaction: if that
/// transaction rolls back, the jobs are back in the queue as they were.
pub async fn take_queued(
    conn: &mut AsyncPgConnection,
    kind: &str,
    limit: i64,
) -> StoreResult<Vec<serde_json::Value>> {
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        payload: serde_json::Value,
    }
    let taken: Vec<Taken> = diesel::sql_query(
        "DELETE FROM jobs WHERE id IN (
             SELECT id FROM jobs
             WHERE status = 'queued' AND run_at <= now() AND kind = $1
             ORDER BY run_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         )
         RETURNING payload",
    )
    .bind::<Text, _>(kind)
    .bind::<BigInt, _>(limit)
    .prepared()
    .load(conn)
    .await?;
    Ok(taken.into_iter().map(|row| row.payload).collect())
}
