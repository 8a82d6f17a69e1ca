//! Paces sends per business number to its messages-per-second limit, across
//! every worker node.
//!
//! Sends are spaced 1/(rate × [`HEADROOM`]) apart on slots that the nodes
//! reserve from one row per number in PostgreSQL (`number_send_slots`), a
//! short run at a time (about [`BLOCK`] of the rate), so two nodes sending for
//! one number together keep its rate. A send takes the next slot of its
//! node's run, or reserves a new run, and sleeps until its slot; slots of a
//! run left unused until they are past are dropped (sent late, they would
//! crowd the slots another node holds now). `governor` was considered, but it
//! limits one process, and a slot reservation is all this needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;
use wacrm_persistence::{PgPool, numbers};

/// The share of a number's limit that is used. Sends are released exactly
/// spaced, but each reaches the provider a few milliseconds later or sooner
/// than the one before it (scheduling, connection reuse); at the full rate one
/// of them would then and again cross into the next second and make it one
/// over the limit (seen at 80/s: a second of 81 between 79 and 80). At 98 %
/// a second of the provider's holds the limit even when arrivals shift by up
/// to 20 ms.
pub const HEADROOM: f64 = 0.98;

/// How much of a number's rate one reservation takes: 50 ms of it (49 slots
/// at 1,000/s, 4 at 80/s), about 20 reservations a second per busy number.
const BLOCK: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct Pacer {
    pool: PgPool,
    numbers: Arc<Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<Run>>>>>,
}

/// This node's reserved slots of one number: `left` more from `next` on.
#[derive(Default)]
struct Run {
    next: Option<Instant>,
    left: u32,
}

impl Pacer {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            numbers: Arc::default(),
        }
    }

    /// Waits until `number` may send again at `per_second` messages a second
    /// (less the headroom), counting every node's sends.
    pub async fn wait(&self, number: Uuid, per_second: i32) {
        let slot = self.take(number, per_second).await;
        tokio::time::sleep_until(slot).await;
    }

    /// The next slot of this node's run for `number`, reserving a new run
    /// when it is used up or past: when a send may go.
    pub async fn take(&self, number: Uuid, per_second: i32) -> Instant {
        let rate = f64::from(per_second.max(1)) * HEADROOM;
        let interval = Duration::from_secs_f64(1.0 / rate);
        let run = {
            let Ok(mut numbers) = self.numbers.lock() else {
                return Instant::now();
            };
            numbers.entry(number).or_default().clone()
        };
        // One reservation at a time per number: sends waiting for a slot
        // share the run the first of them reserves.
        let mut run = run.lock().await;
        let now = Instant::now();
        if let Some(next) = run
            .next
            .filter(|next| run.left > 0 && *next + interval >= now)
        {
            run.next = Some(next + interval);
            run.left -= 1;
            return next;
        }
        // At least 1; a few thousand at most (a rate is an i32 per second).
        #[allow(clippy::cast_possible_truncation)]
        let count = ((rate * BLOCK.as_secs_f64()).ceil() as i32).max(1);
        let first = match self.reserve(number, count, interval).await {
            Ok(wait) => Instant::now() + wait,
            Err(error) => {
                // Without the database this node paces alone: right for one
                // node, and nothing is recorded while it is down anyway.
                tracing::warn!(%error, %number, "send slots not reserved; pacing this node alone");
                run.next.map_or(now, |next| next.max(now))
            }
        };
        run.next = Some(first + interval);
        run.left = count.unsigned_abs() - 1;
        first
    }

    async fn reserve(
        &self,
        number: Uuid,
        count: i32,
        interval: Duration,
    ) -> Result<Duration, String> {
        let mut conn = self.pool.get().await.map_err(|error| error.to_string())?;
        let wait = numbers::reserve_send_slots(&mut conn, number, count, interval.as_secs_f64())
            .await
            .map_err(|error| error.to_string())?;
        Ok(Duration::from_secs_f64(wait))
    }
}
