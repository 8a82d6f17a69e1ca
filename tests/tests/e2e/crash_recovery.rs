//! A worker that dies mid-job: its leased job is taken over within the short
//! lease (while a live worker's heartbeat keeps its own), and a database-only
//! job, whose claim is the worker's transaction, is taken over at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wacrm_persistence::jobs::{self, JobCounts, JobStatus};
use wacrm_persistence::{AsyncPgConnection, PgPool};
use wacrm_worker::{CancellationToken, Job, JobError, Runner, TransactionalJob};

use crate::harness::{TestDatabase, eventually};

/// Counts the attempts of the test jobs.
#[derive(Clone, Default)]
struct Ctx {
    attempts: Arc<AtomicUsize>,
}

/// Its first attempt hangs (the worker is about to die); later ones succeed.
#[derive(Serialize, Deserialize)]
struct CallsProvider;

impl Job for CallsProvider {
    const KIND: &'static str = "test_calls_provider";
    type Context = Ctx;

    async fn run(&self, ctx: &Ctx) -> Result<(), JobError> {
        if ctx.attempts.fetch_add(1, Ordering::SeqCst) == 0 {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

/// The same, for a job that only touches the database.
#[derive(Serialize, Deserialize)]
struct DatabaseOnly;

impl Job for DatabaseOnly {
    const KIND: &'static str = "test_database_only";
    type Context = Ctx;

    async fn run(&self, _: &Ctx) -> Result<(), JobError> {
        unreachable!("registered to run in its transaction")
    }
}

impl TransactionalJob for DatabaseOnly {
    async fn run_in(&self, ctx: &Ctx, _: &mut AsyncPgConnection) -> Result<(), JobError> {
        if ctx.attempts.fetch_add(1, Ordering::SeqCst) == 0 {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

/// A worker node: its own pool and runner, on a task of its own.
struct Node {
    task: tokio::task::JoinHandle<()>,
}

impl Node {
    fn start(url: &str, ctx: &Ctx, lease: Duration) -> Self {
        let pool = wacrm_persistence::pool::connect(url, 4).unwrap();
        let runner = Runner::new(pool, ctx.clone())
            .register::<CallsProvider>()
            .register_in_transaction::<DatabaseOnly>()
            .lease(lease)
            .heartbeat(lease / 5)
            .poll_interval(Duration::from_millis(100));
        Self {
            task: tokio::spawn(runner.run(CancellationToken::new())),
        }
    }

    /// Dies: its tasks stop where they are, its connections are dropped, and
    /// nothing it had claimed is released by a word from it.
    async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn setup() -> (TestDatabase, PgPool, Ctx) {
    let db = TestDatabase::create().await;
    let pool = wacrm_persistence::pool::connect(&db.url, 4).unwrap();
    (db, pool, Ctx::default())
}

async fn enqueue<J: Job>(pool: &PgPool, job: &J) -> i64 {
    let mut conn = pool.get().await.unwrap();
    wacrm_worker::enqueue(&mut conn, job)
        .await
        .unwrap()
        .unwrap()
}

async fn job(pool: &PgPool, id: i64) -> Option<jobs::Job> {
    let mut conn = pool.get().await.unwrap();
    jobs::find(&mut conn, id).await.ok()
}

#[tokio::test]
async fn a_leased_job_is_renewed_while_it_runs_and_taken_over_within_the_lease_when_its_worker_dies()
 {
    let (db, pool, ctx) = setup().await;
    let lease = Duration::from_secs(1);
    let id = enqueue(&pool, &CallsProvider).await;
    let first = Node::start(&db.url, &ctx, lease);
    eventually(
        "the first node runs the job",
        Duration::from_secs(10),
        || async { ctx.attempts.load(Ordering::SeqCst) == 1 },
    )
    .await;
    let claimed = job(&pool, id).await.unwrap();
    assert_eq!(claimed.status, JobStatus::Running);
    let first_lease: DateTime<Utc> = claimed.locked_until.unwrap();

    // Alive, the node renews its lease: the job outlives it and stays its own,
    // with a second node looking for work all along.
    let second = Node::start(&db.url, &ctx, lease);
    eventually(
        "the lease is renewed past its first end",
        Duration::from_secs(10),
        || async {
            let now = job(&pool, id).await.unwrap();
            Utc::now() > first_lease && now.locked_until.unwrap() > first_lease
        },
    )
    .await;
    assert_eq!(ctx.attempts.load(Ordering::SeqCst), 1, "never taken over");
    assert_eq!(job(&pool, id).await.unwrap().attempts, 1);

    // Dead, it renews nothing: the second node takes the job over once the
    // lease runs out, and finishes it.
    first.kill().await;
    let died = Instant::now();
    eventually(
        "the job is taken over and done within the lease",
        lease + Duration::from_secs(2),
        || async { job(&pool, id).await.is_none() },
    )
    .await;
    assert!(died.elapsed() < lease + Duration::from_secs(2));
    assert_eq!(ctx.attempts.load(Ordering::SeqCst), 2);
    second.kill().await;
}

#[tokio::test]
async fn a_database_only_job_is_taken_over_at_once_when_its_worker_dies() {
    let (db, pool, ctx) = setup().await;
    // A lease this long would keep the job for ten minutes, were it leased.
    let lease = Duration::from_secs(600);
    let id = enqueue(&pool, &DatabaseOnly).await;
    let first = Node::start(&db.url, &ctx, lease);
    eventually(
        "the first node runs the job",
        Duration::from_secs(10),
        || async { ctx.attempts.load(Ordering::SeqCst) == 1 },
    )
    .await;
    // Its claim is the node's transaction: the row is locked, not leased.
    let held = job(&pool, id).await.unwrap();
    assert_eq!(held.status, JobStatus::Queued);
    assert_eq!(held.locked_until, None);
    let second = Node::start(&db.url, &ctx, lease);
    {
        let mut conn = pool.get().await.unwrap();
        assert_eq!(jobs::count_by_status(&mut conn).await.unwrap().queued, 1);
    }
    assert_eq!(
        ctx.attempts.load(Ordering::SeqCst),
        1,
        "nobody else runs it"
    );

    first.kill().await;
    eventually(
        "the job is taken over as soon as the dead node's connection is gone",
        Duration::from_secs(5),
        || async { job(&pool, id).await.is_none() },
    )
    .await;
    assert_eq!(ctx.attempts.load(Ordering::SeqCst), 2);
    let mut conn = pool.get().await.unwrap();
    assert_eq!(
        jobs::count_by_status(&mut conn).await.unwrap(),
        JobCounts::default()
    );
    second.kill().await;
}

/// Lipachat's inbound message (docs.lipachat.com/crm-workflow, "Sample webhook
/// payload").
fn lipachat_message(id: &str, text: &str) -> serde_json::Value {
    serde_json::json!({
        "messageId": id,
        "from": "254712345678",
        "to": "254110090747",
        "profileName": "Achieng",
        "type": "TEXT",
        "text": text
    })
}

#[tokio::test]
async fn a_webhook_job_whose_worker_died_mid_batch_is_processed_at_once() {
    use diesel_async::RunQueryDsl as _;

    let inbox = crate::inbound::Inbox::new(
        "lipachat",
        serde_json::json!({"api_key": "lipa-key"}),
        serde_json::json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    let body = lipachat_message("0b6f2f57-3f0e-4c43-9d0c-3c1f5b2a9e11", "Habari");
    let answer = inbox
        .app
        .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
        .await;
    assert_eq!(answer.status, reqwest::StatusCode::OK);

    // A worker holds the job in its transaction, as mid-batch, on another node.
    let mut worker = inbox.app.db().await;
    diesel::sql_query("BEGIN")
        .execute(&mut worker)
        .await
        .unwrap();
    let held = diesel::sql_query(
        "SELECT id FROM jobs WHERE kind = 'process_webhooks' AND status = 'queued' FOR UPDATE",
    )
    .execute(&mut worker)
    .await
    .unwrap();
    assert_eq!(held, 1);
    // Nobody else runs it meanwhile.
    assert_eq!(inbox.app.run_jobs().await, 0);
    assert_eq!(inbox.webhook_events("pending").await.len(), 1);

    // The worker dies: its connection goes, and with it the claim.
    drop(worker);
    eventually(
        "the webhook is processed by another worker",
        Duration::from_secs(5),
        || async {
            inbox.app.run_jobs().await;
            inbox.webhook_events("pending").await.is_empty()
        },
    )
    .await;
    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["body"], "Habari");
}

/// A task stopped between two statements of a transaction (an attempt
/// aborted at its timeout, or when its lease was taken over) hands its
/// connection back to the pool with the transaction open. PostgreSQL ends
/// such a session after a minute, rather than leaving its row locks until the
/// pool hands that connection out again.
#[tokio::test]
async fn pooled_connections_end_transactions_left_idle() {
    use diesel_async::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        idle_in_transaction_session_timeout: String,
    }
    let (_db, pool, _) = setup().await;
    let mut conn = pool.get().await.unwrap();
    let setting: Setting = diesel::sql_query("SHOW idle_in_transaction_session_timeout")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(setting.idle_in_transaction_session_timeout, "1min");
}
