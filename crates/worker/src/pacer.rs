//! Paces sends per business number to its messages-per-second limit.
//!
//! Each number has a next free slot; a send reserves it and moves it on by
//! 1/rate, sleeping until its slot. `governor` was considered, but its keyed
//! limiters share one quota while every number has its own rate, and a slot
//! reservation is all this needs. Per process: with several worker nodes the
//! limit applies per node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

#[derive(Clone, Default)]
pub struct Pacer {
    next_slot: Arc<Mutex<HashMap<Uuid, Instant>>>,
}

impl Pacer {
    /// Waits until `number` may send again at `per_second` messages a second.
    pub async fn wait(&self, number: Uuid, per_second: i32) {
        let interval = Duration::from_secs_f64(1.0 / f64::from(per_second.max(1)));
        let slot = {
            let Ok(mut slots) = self.next_slot.lock() else {
                return;
            };
            let now = Instant::now();
            let slot = slots
                .get(&number)
                .copied()
                .filter(|next| *next > now)
                .unwrap_or(now);
            slots.insert(number, slot + interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sends_are_spaced_by_the_numbers_rate() {
        let pacer = Pacer::default();
        let number = Uuid::now_v7();
        let start = Instant::now();
        for _ in 0..11 {
            pacer.wait(number, 10).await;
        }
        // Ten intervals of 100 ms after the first, immediate, send.
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        // Another number is not held back.
        let other = Instant::now();
        pacer.wait(Uuid::now_v7(), 10).await;
        assert_eq!(other.elapsed(), Duration::ZERO);
    }
}
