//! The outbox: queue messages through the API (202 `queued`), let the running
//! server's workers deliver them to the fake Meta API at the number's pace,
//! and compare the rate the provider saw with the number's limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::api::Api;
use crate::db::Db;
use crate::fake_meta::Record;
use crate::latency::{Stats, stats};

pub struct Plan {
    pub rate: i32,
    pub count: usize,
    pub concurrency: usize,
    /// Conversations whose window is open; message k goes to `targets[k % len]`.
    pub targets: Arc<Vec<Uuid>>,
    /// Text prefix that tells this phase's messages apart at the fake provider.
    pub marker: String,
    pub timeout: Duration,
}

pub struct Outcome {
    pub rate: i32,
    pub count: usize,
    pub concurrency: usize,
    pub accepted: usize,
    /// Non-202 answers by status, with the first few bodies.
    pub refusals: Vec<(u16, String)>,
    pub refused: usize,
    pub transport_errors: usize,
    pub first_transport_error: Option<String>,
    pub post_latency: Stats,
    /// From the first POST to the last 202.
    pub enqueue: Duration,
    pub provider: Option<ProviderRate>,
    /// Provider requests that arrived (of this phase), distinct messages among them.
    pub arrived: usize,
    pub distinct: usize,
    pub timed_out: bool,
    /// Our messages by status once the queue settled (SQL).
    pub statuses: Vec<(String, i64)>,
    /// deliver_message jobs left, by status.
    pub jobs_left: Vec<(String, i64)>,
}

pub struct ProviderRate {
    /// First provider request to the last.
    pub span: Duration,
    /// (n - 1) / span.
    pub rate: f64,
    /// The most requests seen in any one-second window.
    pub busiest_second: usize,
    /// Requests that arrived after the last 202, and their rate.
    pub after_enqueue: usize,
    pub after_enqueue_rate: Option<f64>,
    /// From the first POST to the first provider request.
    pub first_delay: Duration,
    /// From the last 202 to the last provider request.
    pub drain: Duration,
}

#[derive(Default)]
struct TaskResult {
    latencies: Vec<Duration>,
    accepted: usize,
    refused: usize,
    refusals: Vec<(u16, String)>,
    transport_errors: usize,
    first_transport_error: Option<String>,
    last_accepted: Option<Instant>,
}

pub async fn run(api: Arc<Api>, db: &Db, record: &Record, plan: Plan) -> anyhow::Result<Outcome> {
    record.start_phase(&plan.marker)?;
    let since = Uuid::now_v7();
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..plan.concurrency.max(1) {
        let api = api.clone();
        let next = next.clone();
        let targets = plan.targets.clone();
        let marker = plan.marker.clone();
        let count = plan.count;
        tasks.spawn(async move {
            let mut result = TaskResult::default();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= count {
                    break;
                }
                let Some(conversation) = targets.get(k % targets.len().max(1)) else {
                    break;
                };
                let path = format!("/api/v1/conversations/{conversation}/messages");
                let body = json!({"type": "text", "text": format!("{marker}{k} — your order is on its way")});
                match api.call(Method::POST, &path, Some(&body)).await {
                    Ok(answer) => {
                        result.latencies.push(answer.elapsed);
                        if answer.status == StatusCode::ACCEPTED {
                            result.accepted += 1;
                            result.last_accepted = Some(Instant::now());
                        } else {
                            result.refused += 1;
                            if result.refusals.len() < 3 {
                                result.refusals.push((
                                    answer.status.as_u16(),
                                    format!("POST {path}: {}", answer.body),
                                ));
                            }
                        }
                    }
                    Err(error) => {
                        result.transport_errors += 1;
                        result
                            .first_transport_error
                            .get_or_insert_with(|| format!("{error:#}"));
                    }
                }
            }
            result
        });
    }
    let mut latencies = Vec::with_capacity(plan.count);
    let mut outcome = Outcome {
        rate: plan.rate,
        count: plan.count,
        concurrency: plan.concurrency,
        accepted: 0,
        refusals: Vec::new(),
        refused: 0,
        transport_errors: 0,
        first_transport_error: None,
        post_latency: Stats::default(),
        enqueue: Duration::ZERO,
        provider: None,
        arrived: 0,
        distinct: 0,
        timed_out: false,
        statuses: Vec::new(),
        jobs_left: Vec::new(),
    };
    let mut last_accepted = started;
    while let Some(task) = tasks.join_next().await {
        let task = task.map_err(|error| anyhow!("a sending task failed: {error}"))?;
        latencies.extend(task.latencies);
        outcome.accepted += task.accepted;
        outcome.refused += task.refused;
        outcome.transport_errors += task.transport_errors;
        if outcome.refusals.len() < 5 {
            outcome.refusals.extend(task.refusals);
        }
        if outcome.first_transport_error.is_none() {
            outcome.first_transport_error = task.first_transport_error;
        }
        if let Some(at) = task.last_accepted {
            last_accepted = last_accepted.max(at);
        }
    }
    outcome.post_latency = stats(&latencies);
    outcome.enqueue = last_accepted.duration_since(started);
    eprintln!(
        "inbox-bench: {} of {} queued (202) in {:.1} s; waiting for the provider to see them…",
        outcome.accepted,
        plan.count,
        outcome.enqueue.as_secs_f64()
    );

    // Wait for the deliveries.
    let deadline = started + plan.timeout;
    let mut last_report = Instant::now();
    while record.arrived() < outcome.accepted {
        if Instant::now() >= deadline {
            outcome.timed_out = true;
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(15) {
            eprintln!(
                "inbox-bench:   provider has seen {} of {}",
                record.arrived(),
                outcome.accepted
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let arrivals = record.arrivals()?;
    outcome.arrived = arrivals.times.len();
    outcome.distinct = arrivals.distinct;
    if let (Some(first), Some(last)) = (arrivals.times.first(), arrivals.times.last()) {
        let span = last.duration_since(*first);
        let after: Vec<&Instant> = arrivals
            .times
            .iter()
            .filter(|at| **at > last_accepted)
            .collect();
        let after_enqueue_rate = match (after.first(), after.last()) {
            (Some(a), Some(b)) if after.len() > 100 => {
                Some((after.len() - 1) as f64 / b.duration_since(**a).as_secs_f64().max(1e-9))
            }
            _ => None,
        };
        let mut busiest = 0;
        let mut lo = 0;
        for (hi, at) in arrivals.times.iter().enumerate() {
            while arrivals
                .times
                .get(lo)
                .is_some_and(|start| at.duration_since(*start) >= Duration::from_secs(1))
            {
                lo += 1;
            }
            busiest = busiest.max(hi + 1 - lo);
        }
        outcome.provider = Some(ProviderRate {
            span,
            rate: (arrivals.times.len() - 1) as f64 / span.as_secs_f64().max(1e-9),
            busiest_second: busiest,
            after_enqueue: after.len(),
            after_enqueue_rate,
            first_delay: first.saturating_duration_since(started),
            drain: last.saturating_duration_since(last_accepted),
        });
    }

    // Let the last deliveries commit, then count our messages by status.
    let settle = Instant::now();
    loop {
        outcome.statuses = grouped(
            db,
            &format!(
                "SELECT status, count(*) FROM messages WHERE id >= '{since}' AND direction = 'outbound' GROUP BY status ORDER BY status"
            ),
        )
        .await?;
        let queued = outcome
            .statuses
            .iter()
            .any(|(status, _)| status == "queued");
        if !queued || settle.elapsed() > Duration::from_secs(60) || outcome.timed_out {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    outcome.jobs_left = grouped(
        db,
        "SELECT status, count(*) FROM jobs WHERE kind = 'deliver_message' GROUP BY status ORDER BY status",
    )
    .await?;
    Ok(outcome)
}

async fn grouped(db: &Db, sql: &str) -> anyhow::Result<Vec<(String, i64)>> {
    Ok(db
        .query(sql)
        .await?
        .lines()
        .filter_map(|line| {
            let (status, count) = line.split_once('|')?;
            Some((status.to_owned(), count.parse().ok()?))
        })
        .collect())
}
