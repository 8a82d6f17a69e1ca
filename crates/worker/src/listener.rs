//! Wakes idle workers when jobs are queued: a dedicated connection LISTENs on
//! the queue's channel and reconnects after errors. Polling covers the gaps.

use std::sync::Arc;

use futures_util::StreamExt as _;
use wacrm_domain::backoff;
use wacrm_persistence::PgPool;
use wacrm_persistence::jobs;

use crate::CancellationToken;
use crate::runner::Wake;

pub(crate) async fn listen(pool: PgPool, wake: Arc<Wake>, shutdown: CancellationToken) {
    let mut failures = 0_u32;
    loop {
        match jobs::listen(&pool).await {
            Ok(mut conn) => {
                tracing::debug!(channel = jobs::CHANNEL, "listening for new jobs");
                failures = 0;
                // Jobs queued while nobody listened: look once.
                wake.now();
                let notifications = conn.notifications_stream();
                let mut notifications = std::pin::pin!(notifications);
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        notification = notifications.next() => match notification {
                            Some(Ok(_)) => wake.now(),
                            Some(Err(error)) => {
                                tracing::warn!(%error, "lost the job notification connection; polling meanwhile");
                                break;
                            }
                            None => {
                                tracing::warn!("the job notification connection closed; polling meanwhile");
                                break;
                            }
                        },
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for new jobs; polling meanwhile");
            }
        }
        failures = failures.saturating_add(1);
        let pause = backoff::retry_delay(failures, rand::random())
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(1));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}
