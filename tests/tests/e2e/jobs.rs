//! The job queue and its runner against real PostgreSQL: jobs run once, retry
//! with backoff, die after their last attempt and come back when revived,
//! dedup by unique key, survive a crashed worker, and wake idle runners when
//! signalled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use wacrm_persistence::jobs::{self, ClaimRules, JobCounts, JobPageRequest, JobStatus, NewJob};
use wacrm_persistence::{PgPool, StoreError};
use wacrm_worker::{CancellationToken, Job, JobError, JobSignal, Runner};

use crate::harness::{TestApp, TestDatabase, eventually};

/// What the test jobs see: a log of their runs and a switch for the provider.
#[derive(Clone, Default)]
struct Ctx {
    runs: Arc<Mutex<Vec<String>>>,
    provider_down: Arc<AtomicBool>,
}

impl Ctx {
    /// Logs a run of `label`; returns how many runs it has had, this one included.
    fn record(&self, label: &str) -> usize {
        let mut runs = self.runs.lock().unwrap();
        runs.push(label.to_owned());
        runs.iter().filter(|run| *run == label).count()
    }

    fn runs(&self) -> Vec<String> {
        self.runs.lock().unwrap().clone()
    }

    fn runs_of(&self, label: &str) -> usize {
        self.runs().iter().filter(|run| *run == label).count()
    }
}

/// Succeeds at once.
#[derive(Serialize, Deserialize)]
struct Greet {
    label: String,
}

impl Job for Greet {
    const KIND: &'static str = "test_greet";
    type Context = Ctx;

    async fn run(&self, ctx: &Ctx) -> Result<(), JobError> {
        ctx.record(&self.label);
        // Long enough for concurrent runners to interleave.
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok(())
    }
}

/// Fails `failures` times, asking to be retried after `retry_after_ms` (as a
/// provider's Retry-After would), then succeeds.
#[derive(Serialize, Deserialize)]
struct Flaky {
    label: String,
    failures: usize,
    retry_after_ms: i64,
}

impl Job for Flaky {
    const KIND: &'static str = "test_flaky";
    type Context = Ctx;

    async fn run(&self, ctx: &Ctx) -> Result<(), JobError> {
        if ctx.record(&self.label) <= self.failures {
            return Err(JobError::retry_after(
                "provider busy",
                chrono::Duration::milliseconds(self.retry_after_ms),
            ));
        }
        Ok(())
    }
}

/// Fails with no advice on when to retry: the runner's backoff decides.
#[derive(Serialize, Deserialize)]
struct TimesOut {
    label: String,
}

impl Job for TimesOut {
    const KIND: &'static str = "test_times_out";
    type Context = Ctx;

    async fn run(&self, ctx: &Ctx) -> Result<(), JobError> {
        ctx.record(&self.label);
        Err(JobError::retry("the provider timed out"))
    }
}

/// Fails (retryably) while the provider is down; three attempts at most.
#[derive(Serialize, Deserialize)]
struct Deliver {
    label: String,
}

impl Job for Deliver {
    const KIND: &'static str = "test_deliver";
    const MAX_ATTEMPTS: i32 = 3;
    type Context = Ctx;

    async fn run(&self, ctx: &Ctx) -> Result<(), JobError> {
        ctx.record(&self.label);
        if ctx.provider_down.load(Ordering::SeqCst) {
            return Err(JobError::retry_after(
                "provider answered 503",
                chrono::Duration::zero(),
            ));
        }
        Ok(())
    }
}

/// Fails in a way no retry can fix.
#[derive(Serialize, Deserialize)]
struct Rejected {
    label: String,
}

impl Job for Rejected {
    const KIND: &'static str = "test_rejected";
    type Context = Ctx;

    async fn run(&self, ctx: &Ctx) -> Result<(), JobError> {
        ctx.record(&self.label);
        Err(JobError::permanent("the number is not on WhatsApp"))
    }
}

/// A periodic job: one at a time, across all runners.
#[derive(Serialize, Deserialize)]
struct Tick;

impl Job for Tick {
    const KIND: &'static str = "test_tick";
    type Context = Ctx;

    async fn run(&self, ctx: &Ctx) -> Result<(), JobError> {
        ctx.record("tick");
        Ok(())
    }

    fn unique_key(&self) -> Option<String> {
        Some("tick".to_owned())
    }
}

fn runner(pool: &PgPool, ctx: &Ctx) -> Runner<Ctx> {
    Runner::new(pool.clone(), ctx.clone())
        .register::<Greet>()
        .register::<Flaky>()
        .register::<TimesOut>()
        .register::<Deliver>()
        .register::<Rejected>()
        .register::<Tick>()
}

async fn setup() -> (TestDatabase, PgPool, Ctx) {
    let db = TestDatabase::create().await;
    let pool = wacrm_persistence::pool::connect(&db.url, 4).unwrap();
    (db, pool, Ctx::default())
}

async fn enqueue<J: Job>(pool: &PgPool, job: &J) -> Option<i64> {
    let mut conn = pool.get().await.unwrap();
    wacrm_worker::enqueue(&mut conn, job).await.unwrap()
}

async fn counts(pool: &PgPool) -> JobCounts {
    let mut conn = pool.get().await.unwrap();
    jobs::count_by_status(&mut conn).await.unwrap()
}

async fn find(pool: &PgPool, id: i64) -> Result<jobs::Job, StoreError> {
    let mut conn = pool.get().await.unwrap();
    jobs::find(&mut conn, id).await
}

#[tokio::test]
async fn an_enqueued_job_runs_once_and_is_deleted() {
    let (_db, pool, ctx) = setup().await;
    let id = enqueue(
        &pool,
        &Greet {
            label: "hello".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(find(&pool, id).await.unwrap().status, JobStatus::Queued);

    let attempts = runner(&pool, &ctx).run_until_idle().await.unwrap();

    assert_eq!(attempts, 1);
    assert_eq!(ctx.runs(), ["hello"]);
    assert!(matches!(find(&pool, id).await, Err(StoreError::NotFound)));
    assert_eq!(counts(&pool).await, JobCounts::default());
}

#[tokio::test]
async fn a_retryable_failure_is_retried_until_it_succeeds() {
    let (_db, pool, ctx) = setup().await;
    let id = enqueue(
        &pool,
        &Flaky {
            label: "flaky".into(),
            failures: 2,
            retry_after_ms: 0,
        },
    )
    .await
    .unwrap();

    let attempts = runner(&pool, &ctx).run_until_idle().await.unwrap();

    assert_eq!(attempts, 3);
    assert_eq!(ctx.runs_of("flaky"), 3);
    assert!(matches!(find(&pool, id).await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn a_running_runner_retries_when_the_retry_falls_due_not_at_its_next_poll() {
    let (_db, pool, ctx) = setup().await;
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    // Queued before the runner starts, so its first claim finds the job: this
    // plain `enqueue` sends no NOTIFY (senders use `JobSignal`), and a job
    // queued just after an idle runner's first claim would wait for its poll.
    let id = enqueue(
        &pool,
        &Flaky {
            label: "busy".into(),
            failures: 2,
            retry_after_ms: 300,
        },
    )
    .await
    .unwrap();
    let runner = runner(&pool, &ctx).poll_interval(Duration::from_secs(60));
    let handle = tokio::spawn(runner.run(shutdown.clone()));

    // Well before the 60 s poll: only the retries' own wake-ups can make it.
    eventually("the job succeeded", Duration::from_secs(30), || async {
        matches!(find(&pool, id).await, Err(StoreError::NotFound))
    })
    .await;
    assert_eq!(ctx.runs_of("busy"), 3);
    // Each retry waited for its Retry-After.
    assert!(started.elapsed() >= Duration::from_millis(600));

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_job_falls_due_by_the_runners_clock_not_the_databases() {
    let (_db, pool, ctx) = setup().await;
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let mut conn = pool.get().await.unwrap();
    let id = jobs::enqueue(
        &mut conn,
        NewJob {
            run_at: Some(tomorrow),
            ..wacrm_worker::new_job(&Greet {
                label: "tomorrow".into(),
            })
            .unwrap()
        },
    )
    .await
    .unwrap()
    .unwrap();
    drop(conn);
    let clock = wacrm_domain::Clock::adjustable();
    let runner = runner(&pool, &ctx).clock(clock.clone());

    assert_eq!(runner.run_until_idle().await.unwrap(), 0);
    assert_eq!(find(&pool, id).await.unwrap().status, JobStatus::Queued);

    clock.advance(chrono::Duration::days(1) + chrono::Duration::seconds(1));
    assert_eq!(runner.run_until_idle().await.unwrap(), 1);
    assert_eq!(ctx.runs_of("tomorrow"), 1);
}

#[tokio::test]
async fn a_runner_of_its_own_takes_its_kinds_and_the_rest_leaves_them() {
    let (_db, pool, ctx) = setup().await;
    let greet = |label: &str| Greet {
        label: label.into(),
    };
    enqueue(&pool, &greet("first")).await.unwrap();
    enqueue(&pool, &Tick).await.unwrap();
    let greetings = Runner::new(pool.clone(), ctx.clone())
        .register::<Greet>()
        .only_registered();
    let rest = runner(&pool, &ctx).except::<Greet>();

    // Each runs only its own; neither buries the other's as unknown.
    assert_eq!(greetings.run_until_idle().await.unwrap(), 1);
    assert_eq!(ctx.runs(), ["first"]);
    enqueue(&pool, &greet("second")).await.unwrap();
    assert_eq!(rest.run_until_idle().await.unwrap(), 1);
    assert_eq!(ctx.runs(), ["first", "tick"]);
    assert_eq!(counts(&pool).await.queued, 1);
    assert_eq!(greetings.run_until_idle().await.unwrap(), 1);
    assert_eq!(counts(&pool).await, JobCounts::default());
}

#[tokio::test]
async fn the_apps_workers_read_the_apps_clock() {
    let app = TestApp::spawn().await;
    let mut db = app.db().await;
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    jobs::enqueue(
        &mut db,
        NewJob {
            run_at: Some(tomorrow),
            ..wacrm_worker::new_job(&wacrm_worker::jobs::SweepWebhookEvents).unwrap()
        },
    )
    .await
    .unwrap()
    .unwrap();

    assert_eq!(app.run_jobs().await, 0);
    app.clock().advance_to(tomorrow);
    assert_eq!(app.run_jobs().await, 1);
}

/// One figure PostgreSQL keeps of the queue tables: `sql` selects it as `n`
/// for the table named `$1`; answered for `jobs` and `event_relay`.
async fn of_queue_tables(db: &mut AsyncPgConnection, sql: &str) -> (i64, i64) {
    use diesel_async::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Figure {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut of = async |table: &str| {
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::Text, _>(table)
            .get_result::<Figure>(&mut *db)
            .await
            .unwrap()
            .n
    };
    (of("jobs").await, of("event_relay").await)
}

/// Queues the queue tables' vacuum and runs it.
async fn vacuum_the_queue_tables(app: &TestApp, db: &mut AsyncPgConnection) {
    jobs::enqueue(
        db,
        wacrm_worker::new_job(&wacrm_worker::jobs::VacuumQueues).unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(app.run_jobs().await, 1);
}

/// Jobs and relayed events are rows inserted and deleted; their tables are
/// vacuumed every few seconds rather than when autovacuum comes by.
#[tokio::test]
async fn the_queue_tables_are_vacuumed_by_a_job_of_their_own() {
    const VACUUMS: &str = "SELECT vacuum_count AS n FROM pg_stat_user_tables WHERE relname = $1";
    let app = TestApp::spawn().await;
    let mut db = app.db().await;
    let before = of_queue_tables(&mut db, VACUUMS).await;
    vacuum_the_queue_tables(&app, &mut db).await;
    assert_eq!(
        of_queue_tables(&mut db, VACUUMS).await,
        (before.0 + 1, before.1 + 1)
    );
}

/// Truncating a table's empty tail locks out every writer: the vacuum of the
/// queue tables leaves their pages in place, to be filled again.
#[tokio::test]
async fn vacuuming_the_queue_tables_never_truncates_them() {
    use diesel_async::RunQueryDsl as _;
    const SIZE: &str = "SELECT pg_relation_size($1::regclass) AS n";
    let app = TestApp::spawn().await;
    let mut db = app.db().await;
    // Rows no runner claims (an unknown kind, due tomorrow) and no client
    // listens for, deleted at once: every page they filled is empty
    // afterwards, at the tables' end.
    diesel::sql_query(
        "WITH relayed AS (INSERT INTO event_relay (channel, payload) \
             SELECT 'nobody_listens', repeat('x', 200) FROM generate_series(1, 5000) RETURNING 1), \
         queued AS (INSERT INTO jobs (kind, payload, max_attempts, run_at) \
             SELECT 'not_a_kind', jsonb_build_object('padding', repeat('x', 200)), 1, \
                    now() + interval '1 day' FROM generate_series(1, 5000) RETURNING 1) \
         SELECT (SELECT count(*) FROM relayed) + (SELECT count(*) FROM queued)",
    )
    .execute(&mut db)
    .await
    .unwrap();
    diesel::sql_query(
        "WITH relayed AS (DELETE FROM event_relay WHERE channel = 'nobody_listens' RETURNING 1) \
         DELETE FROM jobs WHERE kind = 'not_a_kind'",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let before = of_queue_tables(&mut db, SIZE).await;
    assert!(before.0 > 0 && before.1 > 0, "{before:?}");

    vacuum_the_queue_tables(&app, &mut db).await;
    // Not smaller (the vacuum job's own row may have taken a new page).
    let after = of_queue_tables(&mut db, SIZE).await;
    assert!(
        after.0 >= before.0 && after.1 >= before.1,
        "{before:?} -> {after:?}"
    );
}

#[tokio::test]
async fn without_advice_a_failed_job_waits_out_the_backoff() {
    let (_db, pool, ctx) = setup().await;
    let id = enqueue(
        &pool,
        &TimesOut {
            label: "slow".into(),
        },
    )
    .await
    .unwrap();
    let before = chrono::Utc::now();

    // The retry is not due yet, so the runner stops after one attempt.
    assert_eq!(runner(&pool, &ctx).run_until_idle().await.unwrap(), 1);

    let job = find(&pool, id).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.last_error.as_deref(), Some("the provider timed out"));
    assert_eq!(job.locked_until, None);
    // The first retry waits 1-2 s (2 s less up to half of it as jitter).
    let wait = job.run_at - before;
    assert!(
        wait >= chrono::Duration::milliseconds(900) && wait <= chrono::Duration::seconds(3),
        "{wait}"
    );
}

#[tokio::test]
async fn a_job_out_of_attempts_is_dead_with_its_error_and_runs_again_when_revived() {
    let (_db, pool, ctx) = setup().await;
    ctx.provider_down.store(true, Ordering::SeqCst);
    let id = enqueue(
        &pool,
        &Deliver {
            label: "send".into(),
        },
    )
    .await
    .unwrap();
    let runner = runner(&pool, &ctx);

    assert_eq!(runner.run_until_idle().await.unwrap(), 3);

    let dead = find(&pool, id).await.unwrap();
    assert_eq!(dead.status, JobStatus::Dead);
    assert_eq!(dead.attempts, 3);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("provider answered 503 (gave up after 3 attempts)")
    );
    let listed = {
        let mut conn = pool.get().await.unwrap();
        let page = JobPageRequest {
            after: None,
            limit: 10,
        };
        jobs::list(&mut conn, Some(JobStatus::Dead), page)
            .await
            .unwrap()
    };
    assert_eq!(
        listed.items.iter().map(|job| job.id).collect::<Vec<_>>(),
        [id]
    );
    assert_eq!(
        counts(&pool).await,
        JobCounts {
            dead: 1,
            ..JobCounts::default()
        }
    );

    // The provider is back; an operator revives the job.
    ctx.provider_down.store(false, Ordering::SeqCst);
    let revived = {
        let mut conn = pool.get().await.unwrap();
        jobs::revive(&mut conn, id).await.unwrap()
    };
    assert_eq!(revived.status, JobStatus::Queued);
    assert_eq!(revived.attempts, 0);
    assert_eq!(runner.run_until_idle().await.unwrap(), 1);
    assert_eq!(ctx.runs_of("send"), 4);
    assert!(matches!(find(&pool, id).await, Err(StoreError::NotFound)));

    // Only dead jobs can be revived.
    let mut conn = pool.get().await.unwrap();
    assert!(matches!(
        jobs::revive(&mut conn, id).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn a_permanent_failure_buries_the_job_at_once() {
    let (_db, pool, ctx) = setup().await;
    let id = enqueue(
        &pool,
        &Rejected {
            label: "nope".into(),
        },
    )
    .await
    .unwrap();

    assert_eq!(runner(&pool, &ctx).run_until_idle().await.unwrap(), 1);

    let job = find(&pool, id).await.unwrap();
    assert_eq!(job.status, JobStatus::Dead);
    assert_eq!(job.attempts, 1);
    assert_eq!(
        job.last_error.as_deref(),
        Some("the number is not on WhatsApp")
    );
}

#[tokio::test]
async fn jobs_the_runner_cannot_read_are_buried_with_the_reason() {
    let (_db, pool, ctx) = setup().await;
    let mut conn = pool.get().await.unwrap();
    let unknown = jobs::enqueue(
        &mut conn,
        NewJob {
            kind: "retired_job".into(),
            payload: serde_json::json!({}),
            unique_key: None,
            run_at: None,
            max_attempts: 5,
            ordering_key: None,
        },
    )
    .await
    .unwrap()
    .unwrap();
    let malformed = jobs::enqueue(
        &mut conn,
        NewJob {
            kind: Greet::KIND.into(),
            payload: serde_json::json!({"name": "no label"}),
            unique_key: None,
            run_at: None,
            max_attempts: 5,
            ordering_key: None,
        },
    )
    .await
    .unwrap()
    .unwrap();

    assert_eq!(runner(&pool, &ctx).run_until_idle().await.unwrap(), 2);

    assert!(ctx.runs().is_empty());
    let unknown = find(&pool, unknown).await.unwrap();
    assert_eq!(unknown.status, JobStatus::Dead);
    assert_eq!(
        unknown.last_error.as_deref(),
        Some("no handler is registered for job kind `retired_job`")
    );
    let malformed = find(&pool, malformed).await.unwrap();
    assert_eq!(malformed.status, JobStatus::Dead);
    let error = malformed.last_error.unwrap();
    assert!(
        error.starts_with("the payload is not a valid `test_greet` job: missing field `label`"),
        "{error}"
    );
}

#[tokio::test]
async fn a_unique_key_keeps_a_job_from_being_queued_twice() {
    let (_db, pool, ctx) = setup().await;
    let first = enqueue(&pool, &Tick).await;
    assert!(first.is_some());
    assert_eq!(enqueue(&pool, &Tick).await, None);
    // A batch skips the duplicate too, and still queues the rest.
    {
        let mut conn = pool.get().await.unwrap();
        let batch = vec![
            wacrm_worker::new_job(&Tick).unwrap(),
            wacrm_worker::new_job(&Greet { label: "a".into() }).unwrap(),
        ];
        jobs::enqueue_many(&mut conn, batch).await.unwrap();
    }
    assert_eq!(counts(&pool).await.queued, 2);

    assert_eq!(runner(&pool, &ctx).run_until_idle().await.unwrap(), 2);
    assert_eq!(ctx.runs_of("tick"), 1);

    // Once it has run, the key is free again.
    assert!(enqueue(&pool, &Tick).await.is_some());
}

#[tokio::test]
async fn two_runners_never_run_the_same_job_twice() {
    let (db, pool, ctx) = setup().await;
    let batch: Vec<NewJob> = (0..50)
        .map(|n| {
            wacrm_worker::new_job(&Greet {
                label: format!("job-{n}"),
            })
            .unwrap()
        })
        .collect();
    {
        let mut conn = pool.get().await.unwrap();
        jobs::enqueue_many(&mut conn, batch).await.unwrap();
    }

    let shutdown = CancellationToken::new();
    let mut handles = Vec::new();
    for _ in 0..2 {
        // Each runner as its own node: its own pool.
        let pool = wacrm_persistence::pool::connect(&db.url, 4).unwrap();
        let runner = runner(&pool, &ctx)
            .concurrency(4)
            .poll_interval(Duration::from_millis(200));
        handles.push(tokio::spawn(runner.run(shutdown.clone())));
    }
    eventually("all 50 jobs ran", Duration::from_secs(30), || async {
        counts(&pool).await == JobCounts::default()
    })
    .await;
    shutdown.cancel();
    for handle in handles {
        tokio::time::timeout(Duration::from_secs(10), handle)
            .await
            .expect("the runner stops on shutdown")
            .unwrap();
    }

    let mut runs = ctx.runs();
    assert_eq!(runs.len(), 50, "{runs:?}");
    runs.sort();
    runs.dedup();
    assert_eq!(runs.len(), 50);
}

#[tokio::test]
async fn a_job_whose_lease_expired_is_claimed_again_and_buried_after_its_last_attempt() {
    let (_db, pool, _ctx) = setup().await;
    let mut conn = pool.get().await.unwrap();
    let id = jobs::enqueue(
        &mut conn,
        NewJob {
            kind: "test_crash".into(),
            payload: serde_json::json!({}),
            unique_key: None,
            run_at: None,
            max_attempts: 2,
            ordering_key: None,
        },
    )
    .await
    .unwrap()
    .unwrap();
    let lease = chrono::Duration::milliseconds(200);
    let rules = ClaimRules {
        lease,
        transactional_kinds: Vec::new(),
        running_here: Vec::new(),
        order_wait: chrono::Duration::minutes(2),
        now: chrono::Utc::now(),
        only: None,
        except: Vec::new(),
    };

    // A worker claims the job and dies without a word.
    let claimed = jobs::claim(&mut conn, 10, &rules).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].id, claimed[0].attempts), (id, 1));
    assert_eq!(claimed[0].status, JobStatus::Running);
    // While the lease holds, nobody else gets it.
    assert!(jobs::claim(&mut conn, 10, &rules).await.unwrap().is_empty());

    // Once it has run out, the next claim takes the job again.
    let deadline = Instant::now() + Duration::from_secs(10);
    let again = loop {
        let claimed = jobs::claim(&mut conn, 10, &rules).await.unwrap();
        if !claimed.is_empty() {
            break claimed;
        }
        assert!(Instant::now() < deadline, "the lease never ran out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!((again[0].id, again[0].attempts), (id, 2));
    // The first claimer, back from the dead, can neither renew its lease nor
    // record its outcome over the new owner's attempt.
    let first = claimed[0].claim_token.unwrap();
    assert_ne!(again[0].claim_token, Some(first));
    assert!(
        jobs::renew(&mut conn, &[(id, first)], lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        jobs::complete(&mut conn, id, Some(first)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        jobs::retry_later(&mut conn, id, first, "late", chrono::Utc::now()).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        jobs::find(&mut conn, id).await.unwrap().status,
        JobStatus::Running
    );
    assert!(
        again[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("lease expired")
    );

    // That was its last attempt: when this lease runs out too, the next
    // claim finds it dead instead of taking it a third time.
    let deadline = Instant::now() + Duration::from_secs(10);
    let dead = loop {
        assert!(jobs::claim(&mut conn, 10, &rules).await.unwrap().is_empty());
        let job = jobs::find(&mut conn, id).await.unwrap();
        if job.status == JobStatus::Dead {
            break job;
        }
        assert!(Instant::now() < deadline, "the last lease never ran out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(dead.attempts, 2);
    assert_eq!(dead.locked_until, None);
}

#[tokio::test]
async fn a_signal_after_the_commit_wakes_an_idle_runner_long_before_its_next_poll() {
    let (_db, pool, ctx) = setup().await;
    let signal = JobSignal::start(pool.clone());
    let shutdown = CancellationToken::new();
    // A job queued before the runner starts: its first look, once it
    // listens, runs it; after that only a signal (or the poll a minute
    // later) can make it look again.
    enqueue(
        &pool,
        &Greet {
            label: "before".into(),
        },
    )
    .await
    .unwrap();
    let runner = runner(&pool, &ctx).poll_interval(Duration::from_secs(60));
    let handle = tokio::spawn(runner.run(shutdown.clone()));
    eventually("the runner listens", Duration::from_secs(10), || async {
        listeners(&pool).await == 1
    })
    .await;
    eventually(
        "the runner's first look",
        Duration::from_secs(10),
        || async { ctx.runs_of("before") == 1 },
    )
    .await;

    for label in ["first", "second"] {
        enqueue(
            &pool,
            &Greet {
                label: label.into(),
            },
        )
        .await
        .unwrap();
        signal.jobs_queued();
        eventually("the runner woke up", Duration::from_secs(5), || async {
            ctx.runs_of(label) == 1
        })
        .await;
    }

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_periodic_job_is_queued_on_a_timer() {
    let (_db, pool, ctx) = setup().await;
    let shutdown = CancellationToken::new();
    let runner = Runner::new(pool.clone(), ctx.clone())
        .every::<Tick>(Duration::from_millis(100), || Tick)
        .poll_interval(Duration::from_millis(50));
    let handle = tokio::spawn(runner.run(shutdown.clone()));

    eventually(
        "the tick ran three times",
        Duration::from_secs(10),
        || async { ctx.runs_of("tick") >= 3 },
    )
    .await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_runs() {
    let (_db, pool, ctx) = setup().await;
    let mut pooled = pool.get().await.unwrap();
    let conn: &mut AsyncPgConnection = &mut pooled;

    let rolled_back: anyhow::Result<()> = conn
        .transaction(async |conn: &mut AsyncPgConnection| -> anyhow::Result<()> {
            wacrm_worker::enqueue(
                conn,
                &Greet {
                    label: "lost".into(),
                },
            )
            .await?;
            anyhow::bail!("storing the webhook failed")
        })
        .await;
    assert!(rolled_back.is_err());
    let committed: anyhow::Result<()> = conn
        .transaction(async |conn: &mut AsyncPgConnection| -> anyhow::Result<()> {
            wacrm_worker::enqueue(
                conn,
                &Greet {
                    label: "kept".into(),
                },
            )
            .await?;
            Ok(())
        })
        .await;
    committed.unwrap();

    assert_eq!(runner(&pool, &ctx).run_until_idle().await.unwrap(), 1);
    assert_eq!(ctx.runs(), ["kept"]);
}

/// Connections of this database waiting on the job channel.
async fn listeners(pool: &PgPool) -> i64 {
    use diesel_async::RunQueryDsl as _;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let mut conn = pool.get().await.unwrap();
    let row: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM pg_stat_activity
         WHERE datname = current_database() AND query = 'LISTEN wacrm_jobs'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    row.count
}

/// Issue 13: processed webhook bodies (customers' messages and numbers) are deleted
/// after the retention; failed and pending ones stay for someone to look at.
#[tokio::test]
async fn processed_webhook_bodies_are_deleted_after_the_retention() {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl as _;
    let app = TestApp::spawn_with(&[("WACRM_WEBHOOK_RETENTION_DAYS", "7")]).await;
    let mut db = app.db().await;
    let connection = uuid::Uuid::now_v7();
    // Three stored events: processed 8 days ago, processed 6 days ago, failed 8 days ago.
    for (key, status, days) in [
        ("old", "processed", 8),
        ("recent", "processed", 6),
        ("failed", "failed", 8),
    ] {
        diesel::sql_query(
            "INSERT INTO webhook_events (id, connection_id, provider, event_key, body, status, received_at, processed_at) \
             VALUES (gen_random_uuid(), $1, 'meta', sha256(convert_to($2, 'UTF8')), '{}', $3, \
                     now() - make_interval(days => $4), now() - make_interval(days => $4))",
        )
        .bind::<diesel::sql_types::Uuid, _>(connection)
        .bind::<Text, _>(key)
        .bind::<Text, _>(status)
        .bind::<diesel::sql_types::Integer, _>(days)
        .execute(&mut db)
        .await
        .unwrap();
    }
    wacrm_worker::enqueue(&mut db, &wacrm_worker::jobs::SweepWebhookEvents)
        .await
        .unwrap();
    assert_eq!(app.run_jobs().await, 1);

    #[derive(diesel::QueryableByName)]
    struct Left {
        #[diesel(sql_type = Text)]
        status: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        days: i32,
    }
    let mut left: Vec<(String, i32)> = diesel::sql_query(
        "SELECT status, extract(day FROM now() - processed_at)::int AS days FROM webhook_events",
    )
    .load::<Left>(&mut db)
    .await
    .unwrap()
    .into_iter()
    .map(|row| (row.status, row.days))
    .collect();
    left.sort();
    assert_eq!(
        left,
        [("failed".to_owned(), 8), ("processed".to_owned(), 6)]
    );
}
