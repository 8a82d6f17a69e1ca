//! `webhooks-bench`: measures how fast wacrm fans events out to integrators'
//! webhook endpoints.
//!
//! 1. Starts a Standard Webhooks receiver on 127.0.0.1 that answers 204,
//!    verifies every signature and notes when each delivery arrived.
//! 2. Logs in as an admin and registers `--endpoints` endpoints on it (each
//!    subscribed to `lead.created`, with `allow_private_targets`: the
//!    receiver is on loopback).
//! 3. Creates `--leads` leads through the API, `--concurrency` at a time: each
//!    is one event, so `leads × endpoints` deliveries are expected.
//! 4. Waits until all arrived (or `--timeout`) and prints the fan-out rate:
//!    deliveries per second between the first and the last arrival, and the
//!    delay from each event's timestamp to its arrival.
//!
//! `bench/webhooks.sh` runs it against a fresh wacrm.

mod receiver;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use serde_json::{Value, json};

use crate::receiver::Receiver;

#[derive(Parser, Debug)]
#[command(
    name = "webhooks-bench",
    about = "Webhook fan-out rate of wacrm to a local receiver"
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
    /// Endpoints subscribed to every event (the fan-out factor).
    #[arg(long, default_value_t = 10)]
    endpoints: usize,
    /// Events (leads created).
    #[arg(long, default_value_t = 1000)]
    leads: usize,
    /// Lead creations in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds to wait for every delivery after the last event.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !(args.url.starts_with("http://127.") || args.url.starts_with("http://localhost")) {
        bail!("{} is not a loopback address", args.url);
    }
    let receiver = Arc::new(Receiver::start().await?);
    let client = reqwest::Client::new();
    let token = login(&client, &args).await?;

    for n in 0..args.endpoints {
        let created: Value = client
            .post(format!("{}/api/v1/webhook-endpoints", args.url))
            .bearer_auth(&token)
            .json(&json!({"url": format!("{}/hook/{n}", receiver.url), "event_types": ["lead.created"],
                          "allow_private_targets": true, "description": "bench"}))
            .send()
            .await?
            .error_for_status()
            .context("creating an endpoint")?
            .json()
            .await?;
        let secret = created["secret"]
            .as_str()
            .context("the endpoint's secret")?;
        receiver.add_secret(secret)?;
    }
    let expected = args.leads * args.endpoints;
    println!(
        "== {} events x {} endpoints = {expected} deliveries expected ==",
        args.leads, args.endpoints
    );

    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, url, token, next, total) = (
            client.clone(),
            args.url.clone(),
            token.clone(),
            next.clone(),
            args.leads,
        );
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                client
                    .post(format!("{url}/api/v1/leads"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("Bench lead {n}")}))
                    .send()
                    .await?
                    .error_for_status()?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let events_elapsed = started.elapsed();
    println!(
        "events created          {} in {:.2} s ({:.0}/s)",
        args.leads,
        events_elapsed.as_secs_f64(),
        args.leads as f64 / events_elapsed.as_secs_f64()
    );

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    while receiver.count() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = receiver.report();
    println!("deliveries received     {} of {expected}", report.received);
    println!("invalid signatures      {}", report.invalid);
    println!("repeated webhook-ids    {}", report.repeated);
    if report.received > 1 {
        println!(
            "fan-out rate            {:.0} deliveries/s (first to last arrival: {:.2} s)",
            (report.received - 1) as f64 / report.span.as_secs_f64().max(1e-9),
            report.span.as_secs_f64()
        );
        println!(
            "end to end              {:.0} deliveries/s (first event sent to last arrival: {:.2} s)",
            report.received as f64 / (report.last_at - started).as_secs_f64().max(1e-9),
            (report.last_at - started).as_secs_f64()
        );
        println!(
            "event -> arrival delay  p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
            report.delay_ms(0.50),
            report.delay_ms(0.95),
            report.delay_ms(1.0)
        );
    }
    if report.received < expected {
        bail!("only {} of {expected} deliveries arrived", report.received);
    }
    Ok(())
}

async fn login(client: &reqwest::Client, args: &Args) -> anyhow::Result<String> {
    let answer: Value = client
        .post(format!("{}/api/v1/auth/login", args.url))
        .json(&json!({"email": args.email, "password": args.password}))
        .send()
        .await?
        .error_for_status()
        .context("logging in")?
        .json()
        .await?;
    Ok(answer["access_token"]
        .as_str()
        .context("an access token")?
        .to_owned())
}
