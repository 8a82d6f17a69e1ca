//! The closed-loop load: `concurrency` tasks, each with one request in flight
//! at a time over a kept-alive HTTP/1.1 connection, until the deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

use crate::payload::Payloads;

pub struct Plan {
    pub url: String,
    pub concurrency: usize,
    pub duration: Duration,
    pub payloads: Payloads,
}

/// Counters the monitor reads while the load runs.
#[derive(Default)]
pub struct Progress {
    /// Sequence numbers handed out (requests started).
    pub started: AtomicU64,
    /// 200 answers so far.
    pub accepted: AtomicU64,
}

/// What one request answered, when it was not a 200.
pub struct Refusal {
    pub status: u16,
    pub body: String,
}

#[derive(Default)]
struct TaskResult {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    first_transport_error: Option<String>,
    refusals: Vec<Refusal>,
}

pub struct LoadResult {
    /// Every request's latency (answered or not), sorted, in microseconds.
    pub latencies_us: Vec<u32>,
    pub statuses: BTreeMap<u16, u64>,
    pub transport_errors: u64,
    pub first_transport_error: Option<String>,
    /// The first few non-200 answers, with their bodies.
    pub refusals: Vec<Refusal>,
    /// Sequence numbers used: `0..sent`.
    pub sent: u64,
    pub started_wall: DateTime<Utc>,
    pub finished_wall: DateTime<Utc>,
    /// From the first request sent to the last answer received.
    pub elapsed: Duration,
}

impl LoadResult {
    pub fn accepted(&self) -> u64 {
        self.statuses.get(&200).copied().unwrap_or(0)
    }
}

pub async fn run(plan: Plan, progress: Arc<Progress>) -> anyhow::Result<LoadResult> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(plan.concurrency)
        .pool_idle_timeout(Duration::from_secs(90))
        .timeout(Duration::from_secs(30))
        .build()?;
    let plan = Arc::new(plan);
    let started_wall = Utc::now();
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..plan.concurrency {
        tasks.spawn(drive(
            client.clone(),
            plan.clone(),
            progress.clone(),
            deadline,
        ));
    }
    let mut result = LoadResult {
        latencies_us: Vec::new(),
        statuses: BTreeMap::new(),
        transport_errors: 0,
        first_transport_error: None,
        refusals: Vec::new(),
        sent: 0,
        started_wall,
        finished_wall: started_wall,
        elapsed: Duration::ZERO,
    };
    while let Some(task) = tasks.join_next().await {
        let task = task?;
        result.latencies_us.extend(task.latencies_us);
        for (status, count) in task.statuses {
            *result.statuses.entry(status).or_default() += count;
        }
        result.transport_errors += task.transport_errors;
        if result.first_transport_error.is_none() {
            result.first_transport_error = task.first_transport_error;
        }
        for refusal in task.refusals {
            if result.refusals.len() < 5 {
                result.refusals.push(refusal);
            }
        }
    }
    result.elapsed = started.elapsed();
    result.finished_wall = Utc::now();
    result.sent = progress.started.load(Ordering::Relaxed);
    result.latencies_us.sort_unstable();
    Ok(result)
}

async fn drive(
    client: reqwest::Client,
    plan: Arc<Plan>,
    progress: Arc<Progress>,
    deadline: Instant,
) -> TaskResult {
    let expected = plan.duration.as_secs().max(1) as usize * 400;
    let mut result = TaskResult {
        latencies_us: Vec::with_capacity(expected),
        ..TaskResult::default()
    };
    while Instant::now() < deadline {
        let seq = progress.started.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let signed = plan.payloads.build(seq, now);
        let sent_at = Instant::now();
        let answer = client
            .post(&plan.url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signed.signature)
            .body(signed.body)
            .send()
            .await;
        match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read the body to the end so the connection is reused.
                let body = response.bytes().await;
                let latency = sent_at.elapsed();
                result.latencies_us.push(micros(latency));
                *result.statuses.entry(status).or_default() += 1;
                if status == 200 {
                    progress.accepted.fetch_add(1, Ordering::Relaxed);
                } else if result.refusals.len() < 5 {
                    result.refusals.push(Refusal {
                        status,
                        body: body
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .unwrap_or_else(|error| format!("(body unreadable: {error})")),
                    });
                }
            }
            Err(error) => {
                result.latencies_us.push(micros(sent_at.elapsed()));
                result.transport_errors += 1;
                if result.first_transport_error.is_none() {
                    result.first_transport_error = Some(format!("{error:?}"));
                }
                // Do not spin on a refused connection.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    result
}

fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[u32], q: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}
