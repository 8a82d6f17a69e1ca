//! Waiting on a condition instead of sleeping for a guessed time.

use std::future::Future;
use std::time::{Duration, Instant};

/// Waits (up to `limit`) until `check` holds; fails the test naming `what`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
