//! Watching the processing backlog through the admin job list.
//!
//! Each accepted webhook gets exactly one `process_webhook` job, in the same
//! transaction; job ids are a sequence and finished jobs are deleted. So the
//! newest queued id tells how many were enqueued, and the oldest job still
//! running (the runner claims in `run_at` order, i.e. oldest first) tells
//! roughly how far processing has got. Two `limit=1`-sized queries, cheap
//! enough to ask every few hundred milliseconds while the load runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::api::Api;
use crate::load::Progress;

const PROCESS_WEBHOOK: &str = "process_webhook";

/// The `process_webhook` jobs as one pair of queries saw them.
#[derive(Clone, Copy, Debug)]
pub struct Observation {
    /// The newest queued job, if any is queued.
    pub newest_queued: Option<i64>,
    /// The oldest running job, if any runs.
    pub oldest_running: Option<i64>,
}

impl Observation {
    pub fn idle(&self) -> bool {
        self.newest_queued.is_none() && self.oldest_running.is_none()
    }

    /// Jobs finished since `base` (the newest job id before the run), when it
    /// can be told: everything below the oldest running job, or everything
    /// accepted once the queue is idle.
    pub fn processed(&self, base: i64, accepted: u64) -> Option<u64> {
        match self.oldest_running {
            Some(oldest) => Some(u64::try_from(oldest - 1 - base).unwrap_or(0).min(accepted)),
            None if self.newest_queued.is_none() => Some(accepted),
            None => None,
        }
    }
}

/// The newest job id of any status (0 when there is none).
pub async fn newest_job(api: &Api) -> anyhow::Result<i64> {
    let items = api.items("/api/v1/admin/jobs?limit=1").await?;
    Ok(items
        .first()
        .and_then(|job| job["id"].as_i64())
        .unwrap_or(0))
}

pub async fn observe(api: &Api) -> anyhow::Result<Observation> {
    // Other kinds (periodic maintenance jobs) share the queue; only
    // `process_webhook` jobs count.
    let ids = |jobs: Vec<serde_json::Value>| -> Vec<i64> {
        jobs.iter()
            .filter(|job| job["kind"] == PROCESS_WEBHOOK)
            .filter_map(|job| job["id"].as_i64())
            .collect()
    };
    let queued = ids(api
        .items("/api/v1/admin/jobs?status=queued&limit=20")
        .await?);
    let running = ids(api
        .items("/api/v1/admin/jobs?status=running&limit=200")
        .await?);
    Ok(Observation {
        newest_queued: queued.into_iter().max(),
        oldest_running: running.into_iter().min(),
    })
}

/// One second of the timeline.
pub struct Sample {
    /// Seconds since the load started.
    pub at: f64,
    pub accepted: u64,
    pub observation: Observation,
}

/// Samples the queue every second until `stop`; returns the samples.
pub async fn monitor(
    api: Arc<Api>,
    progress: Arc<Progress>,
    started: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        let accepted = progress.accepted.load(Ordering::Relaxed);
        match observe(&api).await {
            Ok(observation) => samples.push(Sample {
                at: started.elapsed().as_secs_f64(),
                accepted,
                observation,
            }),
            Err(error) => eprintln!("monitor: {error:#}"),
        }
    }
    samples
}
