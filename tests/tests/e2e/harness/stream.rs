//! Reading `GET /api/v1/stream` (server-sent events) in a test.

use std::time::Duration;

use futures_util::{Stream, StreamExt as _};

/// Reads the event stream until what it carried contains `needle`, for at
/// most 10 s; returns everything read. Fails the test, showing what came,
/// when `needle` does not.
pub async fn read_stream_until<B: AsRef<[u8]>>(
    stream: &mut (impl Stream<Item = reqwest::Result<B>> + Unpin),
    needle: &str,
) -> String {
    let mut received = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            received.push_str(&String::from_utf8_lossy(chunk.unwrap().as_ref()));
            if received.contains(needle) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "no {needle:?} in the stream; got: {received}");
    received
}
