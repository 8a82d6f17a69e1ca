//! The runner: claims due jobs, runs them with a timeout, and records each
//! outcome.
//!
//! A job that calls a provider runs under a short lease (30 s by default) that
//! a heartbeat renews every 10 s while it runs, so a dead node's job is taken
//! over within the lease, however long jobs take; an attempt whose lease was
//! taken over is abandoned and its outcome never recorded (the claim token no
//! longer matches). A database-only job ([`TransactionalJob`]) holds its claim
//! in the transaction that does its work: a dead node's job is free again as
//! soon as its connection drops.
//!
//! One dispatcher per runner claims as many jobs as it has free slots
//! (`concurrency`) and runs each on its own task, so every claimed job starts
//! at once and its lease only covers its own run. When the queue is empty it
//! sleeps until a NOTIFY arrives (see `listener`; senders use `JobSignal`), a
//! retry it scheduled falls due, it queued a periodic job, a job with an
//! ordering key finished (the next of its key may be due), or `poll_interval`
//! passes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument as _;
use wacrm_domain::{Clock, backoff};
use wacrm_persistence::jobs::{self, ClaimRules};
use wacrm_persistence::{AsyncPgConnection, PgPool, PooledConnection, StoreError, transaction};

use crate::CancellationToken;
use crate::completions::{Completions, Removed};
use crate::error::WorkerError;
use crate::job::{Job, JobError, TransactionalJob, new_job};
use crate::listener;
use crate::outcome::{Failure, Outcome, decide};
use crate::periodic::{self, Periodic};

type Leased<Ctx> =
    Box<dyn Fn(Ctx, serde_json::Value) -> BoxFuture<'static, Result<(), Failure>> + Send + Sync>;
type InTransaction<Ctx> = Box<
    dyn Fn(Ctx, serde_json::Value, Held) -> BoxFuture<'static, (Held, Result<(), Failure>)>
        + Send
        + Sync,
>;

/// How a kind of job holds its claim while it runs.
enum Handler<Ctx> {
    /// A lease renewed by a heartbeat.
    Leased(Leased<Ctx>),
    /// The row lock of the transaction its work runs in.
    InTransaction(InTransaction<Ctx>),
}

/// Default lease of a job that calls a provider: a dead node's job waits at
/// most this long.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// Default interval of the lease renewals while such a job runs.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);
/// Default longest attempt (of any job) before it counts as hung.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(4 * 60);
/// Default longest wait behind an earlier job of the same ordering key that
/// keeps failing.
pub const DEFAULT_ORDER_WAIT: Duration = Duration::from_secs(2 * 60);

/// Runs the jobs registered with it, sharing one `Ctx` among them.
///
/// Wake-ups come from a dedicated connection that LISTENs for new jobs; it is
/// opened through `pool`'s connection manager (same URL and setup, but not
/// taken from the pool) and reopened after errors.
pub struct Runner<Ctx> {
    shared: Shared<Ctx>,
    periodic: Vec<Periodic>,
    slots: Slots,
}

/// A runner's slots (how many jobs it runs at once), resizable while it
/// runs: the deliveries' runner follows the numbers' rates.
#[derive(Clone)]
pub struct Slots {
    semaphore: Arc<Semaphore>,
    size: Arc<Mutex<usize>>,
}

impl Slots {
    fn new(size: usize) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(size)),
            size: Arc::new(Mutex::new(size)),
        }
    }

    /// How many slots there are now.
    pub fn size(&self) -> usize {
        *self.size.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Grows at once, or shrinks by the slots free now (the rest as far as
    /// the next resize finds them free); at least 1.
    pub fn resize(&self, wanted: usize) {
        let wanted = wanted.max(1);
        let mut size = self.size.lock().unwrap_or_else(PoisonError::into_inner);
        if wanted > *size {
            self.semaphore.add_permits(wanted - *size);
            *size = wanted;
        } else if wanted < *size {
            *size -= self.semaphore.forget_permits(*size - wanted);
        }
    }
}

/// What the dispatcher and the job tasks share.
struct Shared<Ctx> {
    pool: PgPool,
    context: Ctx,
    handlers: HashMap<&'static str, Handler<Ctx>>,
    lease: Duration,
    heartbeat: Duration,
    timeout: Duration,
    order_wait: Duration,
    poll_interval: Duration,
    /// When queued jobs fall due and when retries are set for (a test's clock
    /// runs ahead of the system's; leases and timeouts keep real time).
    clock: Clock,
    /// Claims only the registered kinds (else any kind, an unknown one to bury).
    only_registered: bool,
    /// Kinds another runner of this process takes.
    except: Vec<String>,
    /// Removes finished leased jobs in batches while the runner runs (else
    /// one by one: `run_until_idle`).
    completions: Option<Completions>,
}

impl<Ctx: Clone + Send + Sync + 'static> Runner<Ctx> {
    /// A runner with no jobs registered, 4 slots, a 5 s poll interval, a 30 s
    /// lease renewed every 10 s, a 4 min timeout and a 2 min order wait.
    pub fn new(pool: PgPool, context: Ctx) -> Self {
        Self {
            shared: Shared {
                pool,
                context,
                handlers: HashMap::new(),
                lease: DEFAULT_LEASE,
                heartbeat: DEFAULT_HEARTBEAT,
                timeout: DEFAULT_TIMEOUT,
                order_wait: DEFAULT_ORDER_WAIT,
                poll_interval: Duration::from_secs(5),
                clock: Clock::system(),
                only_registered: false,
                except: Vec::new(),
                completions: None,
            },
            periodic: Vec::new(),
            slots: Slots::new(4),
        }
    }

    /// Runs jobs of kind `J::KIND` under a renewed lease; registering a kind
    /// again replaces it.
    pub fn register<J: Job<Context = Ctx>>(mut self) -> Self {
        let handler: Leased<Ctx> = Box::new(
            |context: Ctx, payload: serde_json::Value| -> BoxFuture<'static, Result<(), Failure>> {
                Box::pin(async move {
                    let job: J = serde_json::from_value(payload).map_err(Failure::Payload)?;
                    job.run(&context).await.map_err(Failure::Job)
                })
            },
        );
        self.shared
            .handlers
            .insert(J::KIND, Handler::Leased(handler));
        self
    }

    /// Runs jobs of kind `J::KIND` inside the transaction that holds their
    /// claim (see [`TransactionalJob`]); registering a kind again replaces it.
    pub fn register_in_transaction<J: TransactionalJob<Context = Ctx>>(mut self) -> Self {
        let handler: InTransaction<Ctx> =
            Box::new(|context: Ctx, payload: serde_json::Value, mut held: Held| {
                Box::pin(async move {
                    let result = match serde_json::from_value::<J>(payload) {
                        Ok(job) => {
                            in_savepoint(held.conn(), async |conn| job.run_in(&context, conn).await)
                                .await
                                .map_err(Failure::Job)
                        }
                        Err(error) => Err(Failure::Payload(error)),
                    };
                    (held, result)
                })
            });
        self.shared
            .handlers
            .insert(J::KIND, Handler::InTransaction(handler));
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

    /// [`Runner::every`] for a job that holds its claim in its transaction.
    pub fn every_in_transaction<J: TransactionalJob<Context = Ctx>>(
        mut self,
        interval: Duration,
        factory: fn() -> J,
    ) -> Self {
        self.periodic.push(Periodic {
            kind: J::KIND,
            interval: interval.max(Duration::from_millis(1)),
            make: Box::new(move || new_job(&factory())),
        });
        self.register_in_transaction::<J>()
    }

    /// How many jobs run at once (at least 1).
    pub fn concurrency(mut self, slots: usize) -> Self {
        self.slots = Slots::new(slots.max(1));
        self
    }

    /// The runner's slots, to resize while it runs.
    pub fn slots(&self) -> Slots {
        self.slots.clone()
    }

    /// How often an idle runner looks for due jobs without being notified.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.shared.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long a leased job belongs to this runner without a renewal (at
    /// least 1 ms, at most a day): if the runner dies, the job is claimed again
    /// once its lease has run out.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.shared.lease = lease.clamp(Duration::from_millis(1), Duration::from_secs(86_400));
        self
    }

    /// How often a running leased job's lease is renewed (at least 1 ms; a
    /// third of the lease when it is not shorter than the lease).
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.shared.heartbeat = interval.max(Duration::from_millis(1));
        self
    }

    /// The longest an attempt may run (at least 1 ms): a longer one is
    /// stopped and counts as a retryable failure.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.shared.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long an earlier job of the same ordering key that keeps failing
    /// holds the later ones back, counted from when it was queued. A running
    /// one, or one waiting for its first attempt, always does.
    pub fn order_wait(mut self, wait: Duration) -> Self {
        self.shared.order_wait = wait;
        self
    }

    /// The clock that decides when queued jobs are due and when a failed one
    /// is retried (the system's unless set).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.shared.clock = clock;
        self
    }

    /// Leaves jobs of kind `J::KIND` to another runner (one sized for them).
    pub fn except<J: Job>(mut self) -> Self {
        self.shared.handlers.remove(J::KIND);
        self.shared.except.push(J::KIND.to_owned());
        self
    }

    /// Claims only the kinds registered with it, leaving every other kind to
    /// the runner that takes all the rest.
    pub fn only_registered(mut self) -> Self {
        self.shared.only_registered = true;
        self
    }

    /// Runs jobs until `shutdown` is cancelled, then lets the jobs already
    /// claimed finish (each within its timeout) and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let Self {
            mut shared,
            periodic,
            slots,
        } = self;
        let mut helpers = JoinSet::new();
        let (completions, removing) = Completions::start(shared.pool.clone());
        shared.completions = Some(completions);
        helpers.spawn(removing);
        let shared = Arc::new(shared);
        let wake = Arc::new(Wake::default());
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
            concurrency = slots.size(),
            kinds = ?shared.handlers.keys().collect::<Vec<_>>(),
            "job runner started"
        );
        dispatch(shared, wake, slots.semaphore, &shutdown).await;
        while helpers.join_next().await.is_some() {}
        tracing::info!("job runner stopped");
    }

    /// Runs every job that is due now, including retries that fall due at
    /// once, until none is left; returns how many attempts were made. Jobs
    /// scheduled for later stay queued. Meant for tests and one-off tools.
    pub async fn run_until_idle(&self) -> Result<usize, WorkerError> {
        let mut attempts = 0;
        loop {
            let claimed = self.shared.claim(self.slots.size(), Vec::new()).await?;
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
    async fn claim(
        &self,
        limit: usize,
        running_here: Vec<i64>,
    ) -> Result<Vec<jobs::Job>, StoreError> {
        let rules = ClaimRules {
            running_here,
            lease: to_chrono(self.lease),
            transactional_kinds: self
                .handlers
                .iter()
                .filter(|(_, handler)| matches!(handler, Handler::InTransaction(_)))
                .map(|(kind, _)| (*kind).to_owned())
                .collect(),
            order_wait: to_chrono(self.order_wait),
            now: self.clock.now(),
            only: self.only_registered.then(|| {
                self.handlers
                    .keys()
                    .map(|kind| (*kind).to_owned())
                    .collect()
            }),
            except: self.except.clone(),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.pool.get().await?;
        jobs::claim(&mut conn, limit, &rules).await
    }

    /// Runs one claimed job and records its outcome; `None` when the job was
    /// not run (another runner locked it first).
    async fn execute(&self, job: jobs::Job) -> Option<Outcome> {
        let span = tracing::info_span!(
            "job",
            job.id = job.id,
            job.kind = %job.kind,
            job.attempt = tracing::field::Empty,
        );
        async move {
            tracing::debug!("job started");
            let started = Instant::now();
            let outcome = match self.handlers.get(job.kind.as_str()) {
                Some(Handler::InTransaction(handler)) => {
                    self.execute_in_transaction(&job, handler).await?
                }
                Some(Handler::Leased(handler)) => self.execute_leased(&job, Some(handler)).await?,
                None => self.execute_leased(&job, None).await?,
            };
            let elapsed_ms = started.elapsed().as_millis();
            match &outcome {
                Outcome::Complete => tracing::info!(elapsed_ms, "job done"),
                Outcome::RetryAt { at, error } => {
                    tracing::warn!(elapsed_ms, %error, retry_at = %at, "job failed; will retry");
                }
                Outcome::Bury { error } => tracing::error!(elapsed_ms, %error, "job dead"),
            }
            Some(outcome)
        }
        .instrument(span)
        .await
    }

    /// A leased job: the attempt runs while a heartbeat renews the lease; an
    /// attempt whose lease was taken over is stopped and its outcome dropped.
    async fn execute_leased(
        &self,
        job: &jobs::Job,
        handler: Option<&Leased<Ctx>>,
    ) -> Option<Outcome> {
        tracing::Span::current().record("job.attempt", job.attempts);
        let Some(token) = job.claim_token else {
            tracing::error!("a leased job came without a claim token; left to its lease");
            return None;
        };
        let result = match handler {
            None => Err(Failure::UnknownKind),
            Some(handler) => {
                let attempt = self.attempt(handler, job);
                let mut attempt = std::pin::pin!(attempt);
                let heartbeat = self
                    .heartbeat
                    .min(self.lease / 3)
                    .max(Duration::from_millis(1));
                let mut beats = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
                loop {
                    tokio::select! {
                        result = &mut attempt => break result,
                        _ = beats.tick() => match self.renew(job.id, token).await {
                            Ok(true) => {}
                            Ok(false) => {
                                tracing::warn!("the job's lease was taken over; this attempt is abandoned");
                                return None;
                            }
                            Err(error) => tracing::warn!(%error, "cannot renew the job's lease; trying again at the next beat"),
                        },
                    }
                }
            }
        };
        let outcome = decide(
            &job.kind,
            result,
            job.attempts,
            job.max_attempts,
            self.clock.now(),
            rand::random(),
        );
        match self.record_leased(job.id, token, &outcome).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                tracing::warn!(
                    "the job was taken over while it ran (its lease expired); outcome not recorded"
                );
            }
            Err(error) => tracing::error!(
                %error,
                "cannot record the job's outcome; it runs again when its lease expires"
            ),
        }
        Some(outcome)
    }

    /// One attempt, on its own task so that a panic or a timeout is contained;
    /// dropping the future stops the task.
    async fn attempt(&self, handler: &Leased<Ctx>, job: &jobs::Job) -> Result<(), Failure> {
        let task = AbortOnDrop(tokio::spawn(handler(
            self.context.clone(),
            job.payload.clone(),
        )));
        match tokio::time::timeout(self.timeout, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Failure::Panicked),
            Err(_) => Err(Failure::TimedOut(self.timeout)),
        }
    }

    async fn renew(&self, id: i64, token: uuid::Uuid) -> Result<bool, StoreError> {
        let mut conn = self.pool.get().await?;
        let renewed = jobs::renew(&mut conn, &[(id, token)], to_chrono(self.lease)).await?;
        Ok(renewed.contains(&id))
    }

    async fn record_leased(
        &self,
        id: i64,
        token: uuid::Uuid,
        outcome: &Outcome,
    ) -> Result<(), StoreError> {
        if let (Outcome::Complete, Some(completions)) = (outcome, &self.completions) {
            return match completions.complete(id, token).await {
                Removed::Yes => Ok(()),
                Removed::TakenOver => Err(StoreError::NotFound),
                Removed::Failed => Err(StoreError::Pool("removing finished jobs failed".into())),
            };
        }
        let mut conn = self.pool.get().await?;
        match outcome {
            Outcome::Complete => jobs::complete(&mut conn, id, Some(token)).await,
            Outcome::RetryAt { at, error } => {
                jobs::retry_later(&mut conn, id, token, error, *at).await
            }
            Outcome::Bury { error } => jobs::bury(&mut conn, id, token, error).await,
        }
    }

    /// A transactional job: its row is locked in a transaction, the work runs
    /// in a savepoint of it, and the job's removal or its failure commits with
    /// the work. A panic or a timeout closes the connection (releasing the
    /// lock, undoing the work) and the failure is recorded on another.
    async fn execute_in_transaction(
        &self,
        job: &jobs::Job,
        handler: &InTransaction<Ctx>,
    ) -> Option<Outcome> {
        let held = match self.lock(job.id).await {
            Ok(Some((held, attempts))) => {
                tracing::Span::current().record("job.attempt", attempts + 1);
                (held, attempts)
            }
            Ok(None) => {
                tracing::debug!("the job was taken by another runner");
                return None;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot lock the job; it stays queued");
                return None;
            }
        };
        let attempt = held.1 + 1;
        let task = AbortOnDrop(tokio::spawn(handler(
            self.context.clone(),
            job.payload.clone(),
            held.0,
        )));
        let (held, result) = match tokio::time::timeout(self.timeout, task).await {
            Ok(Ok((held, result))) => (Some(held), result),
            // The task dropped its `Held`, which closed the connection.
            Ok(Err(_)) => (None, Err(Failure::Panicked)),
            Err(_) => (None, Err(Failure::TimedOut(self.timeout))),
        };
        let outcome = decide(
            &job.kind,
            result,
            attempt,
            job.max_attempts,
            self.clock.now(),
            rand::random(),
        );
        let recorded = match held {
            Some(mut held) => match finish(held.conn(), job.id, &outcome).await {
                Ok(()) => {
                    drop(held.release());
                    Ok(())
                }
                // The transaction is lost with `held`: record the failure anew.
                Err(error) => {
                    tracing::warn!(%error, "cannot commit the job's outcome with its work");
                    drop(held);
                    self.record_apart(job.id, &outcome).await
                }
            },
            None => self.record_apart(job.id, &outcome).await,
        };
        match recorded {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(error) => tracing::error!(%error, "cannot record the job's outcome; it runs again"),
        }
        Some(outcome)
    }

    /// A connection in a new transaction holding job `id`'s row, and the
    /// attempts the job has had; `None` when another transaction holds it.
    async fn lock(&self, id: i64) -> Result<Option<(Held, i32)>, StoreError> {
        let mut held = Held(Some(self.pool.get().await?));
        transaction::begin(held.conn()).await?;
        match jobs::lock_for_run(held.conn(), id, self.clock.now()).await? {
            Some(attempts) => Ok(Some((held, attempts))),
            None => {
                transaction::rollback_to(held.conn(), 0).await?;
                drop(held.release());
                Ok(None)
            }
        }
    }

    /// Records the failure of a transactional job whose transaction was lost.
    /// Waits for the lost connection's lock to go, which closing it does.
    async fn record_apart(&self, id: i64, outcome: &Outcome) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        match outcome {
            // The work did not commit: the job runs again, as it is.
            Outcome::Complete => Ok(()),
            Outcome::RetryAt { at, error } => {
                jobs::record_failure(&mut conn, id, error, Some(*at)).await
            }
            Outcome::Bury { error } => jobs::record_failure(&mut conn, id, error, None).await,
        }
    }
}

/// Records a transactional job's outcome in its transaction, and commits.
async fn finish(
    conn: &mut AsyncPgConnection,
    id: i64,
    outcome: &Outcome,
) -> Result<(), StoreError> {
    match outcome {
        Outcome::Complete => jobs::complete(conn, id, None).await?,
        Outcome::RetryAt { at, error } => jobs::record_failure(conn, id, error, Some(*at)).await?,
        Outcome::Bury { error } => jobs::record_failure(conn, id, error, None).await?,
    }
    transaction::commit(conn).await
}

/// Runs `work` in a savepoint that commits with the job's outcome, success or
/// failure: a job whose failure must undo its work does that work in a nested
/// transaction (processing webhooks keeps the events it applied and retries
/// the one that failed). A failure that left the transaction unusable rolls
/// the savepoint back; if even that fails, recording the outcome fails too and
/// the runner records it on another connection.
async fn in_savepoint(
    conn: &mut AsyncPgConnection,
    work: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<(), JobError>,
) -> Result<(), JobError> {
    let retry = |error: StoreError| JobError::retry(error.to_string());
    let depth = transaction::depth(conn).map_err(retry)?;
    transaction::begin(conn).await.map_err(retry)?;
    let result = work(conn).await;
    if let Err(error) = transaction::commit(conn).await {
        tracing::warn!(%error, "the job's work cannot be kept; rolled back");
        transaction::rollback_to(conn, depth).await.map_err(retry)?;
        result?;
        return Err(retry(error));
    }
    result
}

/// A pooled connection holding a transactional job's claim. Dropped without
/// [`Held::release`] (a panic, a timeout, a failed commit), it is closed, not
/// returned to the pool: the pool would keep it idle, its transaction open and
/// the job's row locked, until someone took it again.
struct Held(Option<PooledConnection>);

impl Held {
    fn conn(&mut self) -> &mut AsyncPgConnection {
        match self.0.as_deref_mut() {
            Some(conn) => conn,
            None => unreachable!("a held connection is only taken by `release` or `drop`"),
        }
    }

    /// Back to the pool, once its transaction is closed.
    fn release(mut self) -> Option<PooledConnection> {
        self.0.take()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(PooledConnection::take(conn));
        }
    }
}

/// A spawned task that is aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::days(1))
}

/// Claims jobs while slots are free, until shutdown; then waits for the jobs
/// it claimed.
async fn dispatch<Ctx: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<Ctx>>,
    wake: Arc<Wake>,
    slots: Arc<Semaphore>,
    shutdown: &CancellationToken,
) {
    let mut running = JoinSet::new();
    let running_ids: Arc<Mutex<HashSet<i64>>> = Arc::default();
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
        let here: Vec<i64> = running_ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect();
        let pause = match shared.claim(wanted, here).await {
            Ok(claimed) => {
                failures = 0;
                let full = claimed.len() == wanted;
                for job in claimed {
                    let permit = permits.pop();
                    let (shared, wake) = (shared.clone(), wake.clone());
                    let ids = running_ids.clone();
                    let id = job.id;
                    ids.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(id);
                    running.spawn(async move {
                        let ordered = job.ordering_key.is_some();
                        let outcome = shared.execute(job).await;
                        ids.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&id);
                        drop(permit);
                        if ordered {
                            // The next job of its key may be due now.
                            wake.now();
                        }
                        if let Some(Outcome::RetryAt { at, .. }) = outcome {
                            let delay =
                                (at - shared.clock.now()).to_std().unwrap_or(Duration::ZERO);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_grow_at_once_and_shrink_by_what_is_free() {
        let slots = Slots::new(2);
        let held = slots.semaphore.clone().try_acquire_owned().unwrap();
        slots.resize(5);
        assert_eq!((slots.size(), slots.semaphore.available_permits()), (5, 4));
        // One is held: shrinking to 0 (at least 1) frees what it can now.
        slots.resize(0);
        assert_eq!((slots.size(), slots.semaphore.available_permits()), (1, 0));
        drop(held);
        assert_eq!(slots.semaphore.available_permits(), 1);
    }
}
