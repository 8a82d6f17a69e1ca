//! Watching the processing through the admin endpoints.
//!
//! - Done: `GET /api/v1/admin/webhook-events?status=pending&limit=1` is empty.
//!   While a backlog exists the newest events are the pending ones, so this
//!   answers from the first rows it looks at.
//! - How far: the newest *processed* events (`status=processed&limit=20`);
//!   their bodies carry our wamid `wamid.bench.<run>.<seq>`, and events are
//!   processed oldest first, so about `max(seq) + 1` are done. (That query
//!   walks past the pending backlog: a few milliseconds once a second.)
//! - Follow-up jobs (a processed message queues e.g. `run_bots`): the job list
//!   has nothing queued that is due and nothing running.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::api::Api;
use crate::load::Progress;

pub async fn any_pending(api: &Api) -> anyhow::Result<bool> {
    Ok(!api
        .items("/api/v1/admin/webhook-events?status=pending&limit=1")
        .await?
        .is_empty())
}

/// The highest sequence number of this run's messages processed so far
/// (among the 20 newest processed events: requests do not arrive exactly in
/// sequence order).
pub async fn frontier(api: &Api, run_tag: &str) -> anyhow::Result<Option<u64>> {
    let items = api
        .items("/api/v1/admin/webhook-events?status=processed&limit=20")
        .await?;
    let marker = format!("wamid.bench.{run_tag}.");
    Ok(items
        .iter()
        .filter_map(|event| event["body"].as_str())
        .filter_map(|body| {
            let at = body.find(&marker)? + marker.len();
            let digits: String = body[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u64>().ok()
        })
        .max())
}

/// No job is running and none queued is due (retries scheduled for later and
/// periodic jobs not yet due do not count).
pub async fn jobs_idle(api: &Api) -> anyhow::Result<bool> {
    if !api
        .items("/api/v1/admin/jobs?status=running&limit=1")
        .await?
        .is_empty()
    {
        return Ok(false);
    }
    let now = Utc::now();
    let queued = api
        .items("/api/v1/admin/jobs?status=queued&limit=200")
        .await?;
    Ok(!queued.iter().any(|job| {
        job["run_at"]
            .as_str()
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .is_none_or(|at| at <= now)
    }))
}

/// One second of the timeline.
pub struct Sample {
    /// Seconds since the load started.
    pub at: f64,
    pub accepted: u64,
    /// About how many of this run's events are processed.
    pub processed: Option<u64>,
}

/// Samples the progress every second until `stop`; returns the samples.
/// Without `run_tag`, only counts what was accepted.
pub async fn monitor(
    api: Arc<Api>,
    run_tag: Option<String>,
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
        let seq = match &run_tag {
            Some(run_tag) => match frontier(&api, run_tag).await {
                Ok(seq) => Some(seq),
                Err(error) => {
                    eprintln!("monitor: {error:#}");
                    continue;
                }
            },
            None => None,
        };
        let accepted = progress.accepted.load(Ordering::Relaxed);
        samples.push(Sample {
            at: started.elapsed().as_secs_f64(),
            accepted,
            processed: seq.map(|seq| seq.map_or(0, |seq| (seq + 1).min(accepted))),
        });
    }
    samples
}
