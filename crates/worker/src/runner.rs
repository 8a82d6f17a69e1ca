//! The runner: claims due jobs under a lease, runs them with a timeout shorter
//! than the lease, and records each outcome.
//!
//! One dispatcher per runner claims as many jobs as it has free slots
//! (`concurrency`) and runs each on its own task, so every claimed job starts
//! at once and its lease only covers its own run. When the queue is empty it
//! sleeps until a NOTIFY arrives (see `listener`; senders use `JobSignal`), a
//! retry it scheduled falls due, it queued a periodic job, or `poll_interval`
//! passes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use futures_util::future::BoxFuture;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument as _;
use wacrm_domain::backoff;
use wacrm_persistence::jobs;
use wacrm_persistence::{PgPool, StoreError};

use crate::CancellationToken;
use crate::error::WorkerError;
use crate::job::{Job, new_job};
use crate::listener;
use crate::outcome::{Failure, Outcome, decide};
use crate::periodic::{self, Periodic};

type Handler<Ctx> =
    Box<dyn Fn(Ctx, serde_json::Value) -> BoxFuture<'static, Result<(), Failure>> + Send + Sync>;

/// Runs the jobs registered with it, sharing one `Ctx` among them.
///
/// Wake-ups come from a dedicated connection that LISTENs for new jobs; it is
/// opened through `pool`'s connection manager (same URL and setup, but not
/// taken from the pool) and reopened after errors.
pub struct Runner<Ctx> {
    shared: Shared<Ctx>,
    periodic: Vec<Periodic>,
    concurrency: usize,
}

/// What the dispatcher and the job tasks share.
struct Shared<Ctx> {
    pool: PgPool,
    context: Ctx,
    handlers: HashMap<&'static str, Handler<Ctx>>,
    lease: Duration,
    poll_interval: Duration,
}

impl<Ctx: Clone + Send + Sync + 'static> Runner<Ctx> {
    /// A runner with no jobs registered, 4 slots, a 5 s poll interval and a
    /// 5 min lease.
    pub fn new(pool: PgPool, context: Ctx) -> Self {
        Self {
            shared: Shared {
                pool,
                context,
                handlers: HashMap::new(),
                lease: Duration::from_secs(5 * 60),
                poll_interval: Duration::from_secs(5),
            },
            periodic: Vec::new(),
            concurrency: 4,
        }
    }

    /// Runs jobs of kind `J::KIND`; registering a kind again replaces it.
    pub fn register<J: Job<Context = Ctx>>(mut self) -> Self {
        let handler: Handler<Ctx> = Box::new(
            |context: Ctx, payload: serde_json::Value| -> BoxFuture<'static, Result<(), Failure>> {
                Box::pin(async move {
                    let job: J = serde_json::from_value(payload).map_err(Failure::Payload)?;
                    job.run(&context).await.map_err(Failure::Job)
                })
            },
        );
        self.shared.handlers.insert(J::KIND, handler);
        self
    }

    /// Registers `J` and queues `factory()` at start and then every `interval`
    /// (at least 1 ms). Give `J` a `unique_key`, or every node queues its own.
    pub fn every<J: Job<Context = Ctx>>(mut self, interval: Duration, factory: fn() -> J) -> Self {
        self.periodic.push(Periodic {
            kind: J::KIND,
            interval: interval.max(Duration::from_millis(1)),
            make: Box::new(move || new_job(&factory())),
        });
        self.register::<J>()
    }

    /// How many jobs run at once (at least 1).
    pub fn concurrency(mut self, slots: usize) -> Self {
        self.concurrency = slots.max(1);
        self
    }

    /// How often an idle runner looks for due jobs without being notified.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.shared.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long a claimed job belongs to this runner (at least 1 ms, at most a
    /// day). A job runs for at most 4/5 of it; if the runner dies, the job is
    /// claimed again once the lease has run out.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.shared.lease = lease.clamp(Duration::from_millis(1), Duration::from_secs(86_400));
        self
    }

    /// Runs jobs until `shutdown` is cancelled, then lets the jobs already
    /// claimed finish (each within its timeout) and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let Self {
            shared,
            periodic,
            concurrency,
        } = self;
        let shared = Arc::new(shared);
        let wake = Arc::new(Wake::default());
        let mut helpers = JoinSet::new();
        helpers.spawn(listener::listen(
            shared.pool.clone(),
            wake.clone(),
            shutdown.clone(),
        ));
        for periodic in periodic {
            helpers.spawn(periodic::schedule(
                shared.pool.clone(),
                wake.clone(),
                periodic,
                shutdown.clone(),
            ));
        }
        tracing::info!(
            concurrency,
            kinds = ?shared.handlers.keys().collect::<Vec<_>>(),
            "job runner started"
        );
        dispatch(shared, wake, concurrency, &shutdown).await;
        while helpers.join_next().await.is_some() {}
        tracing::info!("job runner stopped");
    }

    /// Runs every job that is due now, including retries that fall due at
    /// once, until none is left; returns how many attempts were made. Jobs
    /// scheduled for later stay queued. Meant for tests and one-off tools.
    pub async fn run_until_idle(&self) -> Result<usize, WorkerError> {
        let mut attempts = 0;
        loop {
            let claimed = self.shared.claim(self.concurrency).await?;
            if claimed.is_empty() {
                return Ok(attempts);
            }
            attempts += claimed.len();
            futures_util::future::join_all(claimed.into_iter().map(|job| self.shared.execute(job)))
                .await;
        }
    }
}

impl<Ctx: Clone + Send + Sync + 'static> Shared<Ctx> {
    async fn claim(&self, limit: usize) -> Result<Vec<jobs::Job>, StoreError> {
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::days(1));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.pool.get().await?;
        jobs::claim(&mut conn, limit, lease).await
    }

    /// Runs one claimed job and records its outcome.
    async fn execute(&self, job: jobs::Job) -> Outcome {
        let span = tracing::info_span!(
            "job",
            job.id = job.id,
            job.kind = %job.kind,
            job.attempt = job.attempts,
        );
        async move {
            tracing::debug!("job started");
            let started = Instant::now();
            let result = self.attempt(&job).await;
            let outcome = decide(
                &job.kind,
                result,
                job.attempts,
                job.max_attempts,
                Utc::now(),
                rand::random(),
            );
            let elapsed_ms = started.elapsed().as_millis();
            match &outcome {
                Outcome::Complete => tracing::info!(elapsed_ms, "job done"),
                Outcome::RetryAt { at, error } => {
                    tracing::warn!(elapsed_ms, %error, retry_at = %at, "job failed; will retry");
                }
                Outcome::Bury { error } => tracing::error!(elapsed_ms, %error, "job dead"),
            }
            match self.record(job.id, &outcome).await {
                Ok(()) => {}
                Err(StoreError::NotFound) => tracing::warn!(
                    "the job changed while it ran (its lease expired?); outcome not recorded"
                ),
                Err(error) => tracing::error!(
                    %error,
                    "cannot record the job's outcome; it runs again when its lease expires"
                ),
            }
            outcome
        }
        .instrument(span)
        .await
    }

    /// One attempt, on its own task so that a panic or a timeout is contained.
    async fn attempt(&self, job: &jobs::Job) -> Result<(), Failure> {
        let Some(handler) = self.handlers.get(job.kind.as_str()) else {
            return Err(Failure::UnknownKind);
        };
        let timeout = self.lease * 4 / 5;
        let task = tokio::spawn(handler(self.context.clone(), job.payload.clone()));
        let abort = task.abort_handle();
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Failure::Panicked),
            Err(_) => {
                abort.abort();
                Err(Failure::TimedOut(timeout))
            }
        }
    }

    async fn record(&self, id: i64, outcome: &Outcome) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        match outcome {
            Outcome::Complete => jobs::complete(&mut conn, id).await,
            Outcome::RetryAt { at, error } => jobs::retry_later(&mut conn, id, error, *at).await,
            Outcome::Bury { error } => jobs::bury(&mut conn, id, error).await,
        }
    }
}

/// Claims jobs while slots are free, until shutdown; then waits for the jobs
/// it claimed.
async fn dispatch<Ctx: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<Ctx>>,
    wake: Arc<Wake>,
    concurrency: usize,
    shutdown: &CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut running = JoinSet::new();
    let mut failures = 0_u32;
    loop {
        let first = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let mut permits = vec![first];
        while let Ok(permit) = slots.clone().try_acquire_owned() {
            permits.push(permit);
        }
        while running.try_join_next().is_some() {}
        // Registered before claiming, so a NOTIFY during the claim is not lost.
        let notified = wake.notify.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        wake.forget_due(Instant::now());
        let wanted = permits.len();
        let pause = match shared.claim(wanted).await {
            Ok(claimed) => {
                failures = 0;
                let full = claimed.len() == wanted;
                for job in claimed {
                    let permit = permits.pop();
                    let (shared, wake) = (shared.clone(), wake.clone());
                    running.spawn(async move {
                        let outcome = shared.execute(job).await;
                        drop(permit);
                        if let Outcome::RetryAt { at, .. } = outcome {
                            let delay = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                            if delay < shared.poll_interval {
                                wake.at(Instant::now() + delay);
                            }
                        }
                    });
                }
                if full {
                    // There may be more: claim again as soon as a slot is free.
                    continue;
                }
                shared.poll_interval
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, "cannot claim jobs");
                let pause = backoff::retry_delay(failures, rand::random())
                    .to_std()
                    .unwrap_or(shared.poll_interval);
                pause.min(shared.poll_interval)
            }
        };
        drop(permits);
        let deadline = wake.deadline(Instant::now() + pause);
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
    while running.join_next().await.is_some() {}
}

/// How the dispatcher is woken: now (a NOTIFY, a new listening connection) or
/// at an instant (a retry this runner scheduled sooner than the next poll).
#[derive(Default)]
pub(crate) struct Wake {
    notify: Notify,
    retries: Mutex<BinaryHeap<Reverse<Instant>>>,
}

impl Wake {
    pub(crate) fn now(&self) {
        self.notify.notify_waiters();
    }

    fn at(&self, instant: Instant) {
        self.retries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Reverse(instant));
        // Let an idle dispatcher shorten its sleep.
        self.now();
    }

    /// Drops the instants that a claim made now covers.
    fn forget_due(&self, now: Instant) {
        let mut retries = self.retries.lock().unwrap_or_else(PoisonError::into_inner);
        while retries.peek().is_some_and(|Reverse(at)| *at <= now) {
            retries.pop();
        }
    }

    /// The earlier of `poll` and the next scheduled retry.
    fn deadline(&self, poll: Instant) -> Instant {
        let retries = self.retries.lock().unwrap_or_else(PoisonError::into_inner);
        retries.peek().map_or(poll, |Reverse(at)| poll.min(*at))
    }
}
