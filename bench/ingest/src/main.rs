//! `ingest-bench`: loads wacrm's inbound path and prints what it measured.
//!
//! 1. Logs in as an admin, creates a Meta connection and a number.
//! 2. For `--duration`, keeps `--concurrency` signed Meta webhooks in flight
//!    (each distinct: unique wamid, one of `--senders` phones, timestamp now)
//!    and records every request's latency: the durable-ingest figures.
//! 3. Waits until the job queue is empty (every webhook processed into its
//!    conversation) and reads the last `processed_at`: the processing figures.
//!
//! See `bench/README.md`; `bench/ingest.sh` runs it against a fresh wacrm.

mod api;
mod load;
mod payload;
mod queue;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use clap::Parser;

use crate::api::Api;
use crate::load::{LoadResult, Plan, Progress, quantile};
use crate::payload::Payloads;
use crate::queue::Sample;

const WABA_ID: &str = "102290129340398";

#[derive(Parser, Debug)]
#[command(
    name = "ingest-bench",
    about = "Signed Meta webhooks against wacrm: ingest latency and throughput, then processing rate"
)]
struct Args {
    /// The wacrm to load.
    #[arg(long, env = "WACRM_BENCH_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An admin's email.
    #[arg(long, env = "WACRM_ADMIN_EMAIL")]
    email: String,
    /// The admin's password.
    #[arg(long, env = "WACRM_ADMIN_PASSWORD", hide_env_values = true)]
    password: String,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Requests in flight at once (one kept-alive connection each).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Distinct sender phones the messages are spread over.
    #[arg(long, default_value_t = 20_000)]
    senders: u64,
    /// Threads of the generator's tokio runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds to wait, after the load, for the backlog to be processed
    /// (0: do not measure processing, e.g. when wacrm runs no workers).
    #[arg(long, default_value_t = 300)]
    drain_timeout: u64,
    /// Skip counting the conversations afterwards (pages through all of them).
    #[arg(long)]
    skip_conversation_count: bool,
    /// Allow a URL that is not on the loopback interface.
    #[arg(long)]
    allow_remote: bool,
    /// Create an active bot first (a keyword trigger no message matches), so
    /// every stored message also queues and runs a `run_bots` job.
    #[arg(long)]
    with_bot: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.allow_remote && !is_loopback(&args.url) {
        bail!(
            "{} is not a loopback address; pass --allow-remote to load it anyway",
            args.url
        );
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?
        .block_on(run(args))
}

fn is_loopback(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    ["127.", "localhost:", "localhost/", "[::1]"]
        .iter()
        .any(|prefix| rest.starts_with(prefix))
        || rest == "localhost"
}

async fn run(args: Args) -> anyhow::Result<()> {
    let base_url = args.url.trim_end_matches('/').to_owned();
    let api = Arc::new(
        Api::login(&base_url, &args.email, &args.password)
            .await
            .context("logging in")?,
    );
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let run_tag = &run_id[..12];
    let app_secret = format!("bench-app-secret-{run_id}");
    let phone_number_id = format!(
        "1065{:011}",
        uuid::Uuid::new_v4().as_u128() % 100_000_000_000
    );
    let inbox = api
        .create_meta_inbox(
            &format!("bench {run_tag}"),
            &app_secret,
            WABA_ID,
            &phone_number_id,
        )
        .await
        .context("creating the Meta connection and number")?;
    if args.with_bot {
        api.create_idle_bot(&format!("bench {run_tag}"))
            .await
            .context("creating the bot")?;
        eprintln!("ingest-bench: an active bot evaluates every message");
    }
    eprintln!(
        "ingest-bench: connection {} number {}; {} s of load at {} in flight…",
        inbox.connection_id, inbox.number_id, args.duration, args.concurrency
    );

    let payloads = Payloads::new(
        &app_secret,
        run_tag,
        WABA_ID,
        &phone_number_id,
        args.senders,
    )?;
    let plan = Plan {
        url: format!("{base_url}{}", inbox.webhook_path),
        concurrency: args.concurrency.max(1),
        duration: Duration::from_secs(args.duration),
        payloads,
    };
    let progress = Arc::new(Progress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let monitor = tokio::spawn(queue::monitor(
        api.clone(),
        (args.drain_timeout > 0).then(|| run_tag.to_owned()),
        progress.clone(),
        started,
        stop.clone(),
    ));
    let senders_used = {
        let payloads = Payloads::new(
            &app_secret,
            run_tag,
            WABA_ID,
            &phone_number_id,
            args.senders,
        )?;
        move |sent: u64| {
            (0..sent)
                .map(|seq| payloads.sender_of(seq))
                .collect::<std::collections::HashSet<_>>()
                .len()
        }
    };
    let result = load::run(plan, progress.clone()).await?;
    let load_done = Instant::now();
    let generator_cpu = own_cpu_seconds();
    eprintln!(
        "ingest-bench: load done ({} accepted); waiting up to {} s for processing…",
        result.accepted(),
        args.drain_timeout
    );

    // Drain: poll until no event is pending, then until the follow-up jobs
    // are done too.
    let drain_deadline = load_done + Duration::from_secs(args.drain_timeout);
    let mut drained_at = None;
    while Instant::now() < drain_deadline {
        if !queue::any_pending(&api).await? {
            drained_at = Some(Instant::now());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut jobs_idle_at = None;
    if drained_at.is_some() {
        while Instant::now() < drain_deadline {
            if queue::jobs_idle(&api).await? {
                jobs_idle_at = Some(Instant::now());
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let samples = monitor.await?;

    let accepted = result.accepted();
    let processing = if drained_at.is_some() {
        let failed = api
            .count_all("/api/v1/admin/webhook-events?status=failed", 50)
            .await?;
        let dead = api.count_all("/api/v1/admin/jobs?status=dead", 50).await?;
        let last_processed = last_processed_at(&api).await?;
        let conversations = if args.skip_conversation_count {
            None
        } else {
            api.count_all("/api/v1/conversations", 1000).await?
        };
        Some(Processing {
            failed,
            dead,
            last_processed,
            conversations,
            jobs_idle_after: jobs_idle_at.map(|at| at.duration_since(load_done)),
        })
    } else {
        None
    };

    print_report(&Report {
        args: &args,
        result: &result,
        samples: &samples,
        processing: processing.as_ref(),
        drain_observed: drained_at.map(|at| at.duration_since(load_done)),
        senders_used: senders_used(result.sent),
        accepted,
        generator_cpu,
    });
    Ok(())
}

struct Processing {
    failed: Option<usize>,
    dead: Option<usize>,
    last_processed: Option<DateTime<Utc>>,
    conversations: Option<usize>,
    /// From the end of the load until no job was due or running.
    jobs_idle_after: Option<Duration>,
}

/// The latest `processed_at` among the newest processed events (the runner
/// claims oldest first, so the newest events are the last processed).
async fn last_processed_at(api: &Api) -> anyhow::Result<Option<DateTime<Utc>>> {
    let items = api
        .items("/api/v1/admin/webhook-events?status=processed&limit=200")
        .await?;
    Ok(items
        .iter()
        .filter_map(|event| event["processed_at"].as_str())
        .filter_map(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.with_timezone(&Utc))
        .max())
}

struct Report<'a> {
    args: &'a Args,
    result: &'a LoadResult,
    samples: &'a [Sample],
    processing: Option<&'a Processing>,
    drain_observed: Option<Duration>,
    senders_used: usize,
    accepted: u64,
    generator_cpu: Option<f64>,
}

/// This process's user + system CPU time so far (Linux; clock ticks of 10 ms).
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks = |index: usize| fields.get(index)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

fn ms(us: Option<u32>) -> String {
    us.map_or_else(|| "-".into(), |us| format!("{:.2}", f64::from(us) / 1000.0))
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(0) as f64 / 1e6
}

fn print_report(report: &Report<'_>) {
    let Report {
        args,
        result,
        samples,
        processing,
        accepted,
        ..
    } = report;
    let load_s = result.elapsed.as_secs_f64().max(1e-9);
    let answered: u64 = result.statuses.values().sum();
    let non_200: u64 = answered - accepted;
    let by_status = result
        .statuses
        .iter()
        .filter(|(status, _)| **status != 200)
        .map(|(status, count)| format!("{status}: {count}"))
        .collect::<Vec<_>>();
    let lat = &result.latencies_us;

    println!("== ingest-bench: inbound (signed Meta webhooks) ==");
    println!("target                {}", args.url);
    println!(
        "load                  {:.1} s, {} in flight, {} generator thread(s), {} sender phones ({} used)",
        load_s, args.concurrency, args.threads, args.senders, report.senders_used
    );
    println!("-- durable ingest: POST /webhooks/meta/{{id}} answered 200 = stored + job queued --");
    println!("requests sent         {}", result.sent);
    println!("200 OK                {accepted}");
    println!(
        "non-200               {non_200}{}",
        if by_status.is_empty() {
            String::new()
        } else {
            format!("  ({})", by_status.join(", "))
        }
    );
    println!("transport errors      {}", result.transport_errors);
    if let (Some(cpu), Some(total)) = (report.generator_cpu, own_cpu_seconds()) {
        println!(
            "generator CPU         {cpu:.1} s during the load ({:.0}% of one core); {total:.1} s in all",
            100.0 * cpu / load_s
        );
    }
    if let Some(error) = &result.first_transport_error {
        println!("  first: {error}");
    }
    for refusal in &result.refusals {
        println!(
            "  e.g. {} {}",
            refusal.status,
            refusal.body.chars().take(300).collect::<String>()
        );
    }
    println!(
        "requests/s            {:.0}  (200s/s: {:.0})",
        answered as f64 / load_s,
        *accepted as f64 / load_s
    );
    println!(
        "latency ms            p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        ms(quantile(lat, 0.50)),
        ms(quantile(lat, 0.90)),
        ms(quantile(lat, 0.99)),
        ms(quantile(lat, 0.999)),
        ms(lat.last().copied()),
    );

    println!("-- processing: process_webhook jobs into conversations and messages --");
    match (processing, report.drain_observed) {
        (Some(processing), Some(observed)) => {
            let failed = processing.failed.unwrap_or(0) as u64;
            let processed = accepted.saturating_sub(failed);
            println!(
                "events processed      {processed}  (failed: {}, dead jobs: {}, none left pending)",
                count_text(processing.failed),
                count_text(processing.dead),
            );
            if let Some(last) = processing.last_processed {
                let window = seconds(result.started_wall, last).max(1e-9);
                let drain = seconds(result.finished_wall, last);
                println!(
                    "processing rate       {:.0} events/s  ({processed} in {window:.1} s, first send -> last processed_at)",
                    processed as f64 / window
                );
                println!(
                    "drain after load      {:.1} s  (last processed_at - load end; seen none pending after {:.1} s)",
                    drain.max(0.0),
                    observed.as_secs_f64()
                );
                match processing.jobs_idle_after {
                    Some(idle) => println!(
                        "follow-up jobs done   {:.1} s after the load ended (no job due or running)",
                        idle.as_secs_f64()
                    ),
                    None => println!(
                        "follow-up jobs        still due or running {} s after the load",
                        args.drain_timeout
                    ),
                }
            } else {
                println!("processing rate       - (no processed event found)");
            }
            if let Some(conversations) = processing.conversations {
                println!(
                    "conversations         {conversations}  (distinct senders sent: {})",
                    report.senders_used
                );
            }
        }
        _ if args.drain_timeout == 0 => {
            println!("not measured (--drain-timeout 0)");
        }
        _ => {
            let processed = samples.last().and_then(|sample| sample.processed);
            println!(
                "NOT DRAINED within {} s after the load: processed ≈ {} of {accepted}",
                args.drain_timeout,
                processed.map_or_else(|| "?".into(), |p| p.to_string())
            );
        }
    }

    println!(
        "-- timeline (once a second; processed ≈ 1 + seq of the newest processed event: they are processed oldest first) --"
    );
    println!("    t s   accepted   ingest/s   processed≈  process/s   backlog≈");
    let step = samples.len().div_ceil(60).max(1);
    let mut previous: Option<(f64, u64, Option<u64>)> = None;
    for (index, sample) in samples.iter().enumerate() {
        let processed = sample.processed;
        let (ingest_rate, process_rate) = match previous {
            Some((at, accepted, done)) if sample.at > at => {
                let dt = sample.at - at;
                (
                    Some((sample.accepted.saturating_sub(accepted)) as f64 / dt),
                    match (processed, done) {
                        (Some(now), Some(then)) => Some(now.saturating_sub(then) as f64 / dt),
                        _ => None,
                    },
                )
            }
            _ => (None, None),
        };
        previous = Some((sample.at, sample.accepted, processed));
        if index % step != 0 && index + 1 != samples.len() {
            continue;
        }
        let rate = |r: Option<f64>| r.map_or_else(|| "-".into(), |r| format!("{r:.0}"));
        println!(
            "{:>7.1} {:>10} {:>10} {:>12} {:>10} {:>10}",
            sample.at,
            sample.accepted,
            rate(ingest_rate),
            processed.map_or_else(|| "?".into(), |p| p.to_string()),
            rate(process_rate),
            processed.map_or_else(
                || "?".into(),
                |p| sample.accepted.saturating_sub(p).to_string()
            ),
        );
    }
}

fn count_text(count: Option<usize>) -> String {
    count.map_or_else(|| "many".into(), |n| n.to_string())
}
