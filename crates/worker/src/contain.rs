//! Containing a panic to the work that raised it.
//!
//! A panic is not an error: left alone it unwinds through the whole job, so the
//! fallback that applies events one by one never runs and the same poison batch
//! is retried for ever. Here it becomes a value the caller can record.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;

/// `work`'s output, or the panic's message when it panicked.
///
/// `AssertUnwindSafe` is sound here because callers drop whatever state the
/// panic may have left half-changed (the database connection, above all).
pub async fn contained<T>(work: impl Future<Output = T>) -> Result<T, String> {
    AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|panic| message(panic.as_ref()))
}

fn message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_its_message_and_a_value_passes_through() {
        assert_eq!(contained(async { 7 }).await, Ok(7));
        let out: Result<(), String> = contained(async { panic!("overflowed at {}", 3) }).await;
        assert_eq!(out, Err("overflowed at 3".to_owned()));
        let out: Result<(), String> = contained(async { std::panic::panic_any(42_u8) }).await;
        assert_eq!(out, Err("a panic without a message".to_owned()));
    }
}
