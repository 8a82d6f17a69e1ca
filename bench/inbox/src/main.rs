//! `inbox-bench`: the inbox and outbox benchmark.
//!
//! 1. Logs in as an admin; starts a fake Meta Graph API on 127.0.0.1 and
//!    creates a Meta connection pointing at it, and a number with
//!    `messages_per_second`.
//! 2. Loads the database directly (`COPY` through `psql`): 100,000
//!    conversations on that number and 1,000,000 messages, with media and
//!    status histories, then `VACUUM ANALYZE` and `CHECKPOINT`.
//! 3. Times, one request at a time on a warm server, the inbox list (first
//!    pages, filtered, and deep pages reached through `next_cursor`) and a
//!    conversation's history page: p50/p95/p99 against the 15 ms p95 target.
//! 4. Queues 10,000 text messages through the API (32 in flight) into
//!    conversations whose 24-hour window is open, and measures the rate at
//!    which the fake provider receives them against the number's limit; checks
//!    every message ends `sent`.
//!
//! See `bench/README.md`; `bench/inbox.sh` runs it against a fresh wacrm.

mod api;
mod data;
mod db;
mod fake_meta;
mod latency;
mod send;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::api::{Api, string_field};
use crate::data::{Dataset, Rng, Spec, Totals};
use crate::db::Db;
use crate::fake_meta::FakeMeta;
use crate::latency::{Case, CaseResult, Filter, Kind};

#[derive(Parser, Debug)]
#[command(
    name = "inbox-bench",
    about = "Inbox list/history latency over a large inbox, and the paced send rate through a fake Meta API"
)]
struct Args {
    /// The wacrm to measure.
    #[arg(long, env = "WACRM_BENCH_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An admin's email.
    #[arg(long, env = "WACRM_ADMIN_EMAIL")]
    email: String,
    /// The admin's password.
    #[arg(long, env = "WACRM_ADMIN_PASSWORD", hide_env_values = true)]
    password: String,
    /// wacrm's data directory (embedded PostgreSQL: `<dir>/postgres/run` socket).
    #[arg(long, required_unless_present = "database")]
    data_dir: Option<String>,
    /// A libpq connection string to wacrm's database instead of `--data-dir`.
    #[arg(long)]
    database: Option<String>,
    /// The psql program.
    #[arg(long, default_value = "psql")]
    psql: String,
    /// The wacrm process under test (not counted as another benchmark running).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds to wait for other benchmarks (ingest-bench, another `wacrm serve`) to end.
    #[arg(long, default_value_t = 600)]
    wait_others: u64,

    #[arg(long, default_value_t = 100_000)]
    conversations: usize,
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Conversations with an open 24-hour window (the send targets).
    #[arg(long, default_value_t = 10_000)]
    active: usize,
    /// The conversations were created over this many days.
    #[arg(long, default_value_t = 90)]
    days: i64,
    #[arg(long, default_value_t = 20_261_121)]
    seed: u64,
    /// Skip the status histories of outbound messages (about 1.2 M rows).
    #[arg(long)]
    no_status_events: bool,

    /// Timed requests per case.
    #[arg(long, default_value_t = 300)]
    samples: usize,
    /// Untimed requests before each case.
    #[arg(long, default_value_t = 30)]
    warmup: usize,
    /// Page size for lists and history.
    #[arg(long, default_value_t = 50)]
    page_size: usize,
    /// The deep page (1 = first).
    #[arg(long, default_value_t = 200)]
    deep_page: usize,
    /// The p95 target, ms.
    #[arg(long, default_value_t = 15.0)]
    target_ms: f64,
    /// Print EXPLAIN (ANALYZE, BUFFERS) of every case, not only of those over target.
    #[arg(long)]
    explain: bool,
    /// Skip the search cases (`q=`), which scan messages.
    #[arg(long)]
    skip_search: bool,
    /// Skip the last read case, which marks all but 30 conversations read first.
    #[arg(long)]
    skip_tidy: bool,

    /// Messages to send per phase.
    #[arg(long, default_value_t = 10_000)]
    sends: usize,
    /// The number's messages_per_second, one send phase per value (e.g. `80,400`).
    #[arg(long, value_delimiter = ',', default_value = "80")]
    rate: Vec<i32>,
    /// POSTs in flight while queueing.
    #[arg(long, default_value_t = 32)]
    send_concurrency: usize,
    /// Milliseconds the fake provider waits before answering each send.
    #[arg(long, default_value_t = 0)]
    provider_latency_ms: u64,
    /// Seconds to wait for a phase's deliveries (default: 1.5 x sends/rate + 120).
    #[arg(long)]
    send_timeout: Option<u64>,
    /// Skip the sending phases.
    #[arg(long)]
    skip_sends: bool,
    /// Allow a URL that is not on the loopback interface.
    #[arg(long)]
    allow_remote: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.allow_remote && !is_loopback(&args.url) {
        bail!(
            "{} is not a loopback address; pass --allow-remote to load it anyway",
            args.url
        );
    }
    if args.rate.iter().any(|rate| !(1..=1000).contains(rate)) {
        bail!("--rate values must be between 1 and 1000 (what the API accepts)");
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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

struct Report {
    waited: Vec<String>,
    totals: Totals,
    load: Duration,
    vacuum: Duration,
    sizes: String,
    shares: String,
    load_average: String,
    cases: Vec<CaseResult>,
    plans: Vec<(String, String)>,
    sends: Vec<send::Outcome>,
    fake_requests: u64,
}

async fn run(args: Args) -> anyhow::Result<()> {
    let conninfo = match (&args.database, &args.data_dir) {
        (Some(database), _) => database.clone(),
        (None, Some(dir)) => {
            let dir = std::fs::canonicalize(dir).with_context(|| format!("--data-dir {dir}"))?;
            format!(
                "host={}/postgres/run user=wacrm dbname=wacrm",
                dir.display()
            )
        }
        (None, None) => bail!("--data-dir or --database is required"),
    };
    let db = Db {
        psql: args.psql.clone(),
        conninfo,
    };
    let mut waited = wait_for_quiet(args.server_pid, args.wait_others, "loading").await;

    let base_url = args.url.trim_end_matches('/').to_owned();
    let api = Arc::new(
        Api::login(&base_url, &args.email, &args.password)
            .await
            .context("logging in")?,
    );
    let fake = FakeMeta::start(Duration::from_millis(args.provider_latency_ms))?;
    let first_rate = args.rate.first().copied().unwrap_or(80);
    let run_tag = Uuid::new_v4().simple().to_string();
    let phone_number_id = format!("1065{:011}", Uuid::new_v4().as_u128() % 100_000_000_000);
    let connection = api
        .expect(
            Method::POST,
            "/api/v1/connections",
            &json!({
                "provider": "meta",
                "name": format!("inbox bench {}", &run_tag[..8]),
                "base_url": fake.base_url,
                "credentials": {
                    "access_token": "EAAG-bench-token",
                    "app_secret": format!("bench-secret-{run_tag}"),
                    "verify_token": "bench-verify",
                    "waba_id": "102290129340398",
                },
            }),
            StatusCode::CREATED,
        )
        .await
        .context("creating the Meta connection")?;
    let number = api
        .expect(
            Method::POST,
            "/api/v1/numbers",
            &json!({
                "connection_id": string_field(&connection, "id")?,
                "phone": "+1 555 010 0998",
                "provider_number_id": phone_number_id,
                "is_default": true,
                "messages_per_second": first_rate,
            }),
            StatusCode::CREATED,
        )
        .await
        .context("creating the number")?;
    let number_id: Uuid = string_field(&number, "id")?.parse()?;

    // The data.
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut staff_rng = Rng::new(args.seed ^ 0x57AF);
    let staff: Vec<Uuid> = (0..6)
        .map(|k| staff_rng.v7(now_ms - 200 * 86_400_000 + k))
        .collect();
    let dataset = Arc::new(Dataset::new(Spec {
        conversations: args.conversations,
        messages: args.messages,
        active: args.active,
        days: args.days,
        seed: args.seed,
        now_ms,
        number_id,
        staff: staff.clone(),
        status_events: !args.no_status_events,
    })?);
    eprintln!(
        "inbox-bench: loading {} conversations and {} messages through psql…",
        args.conversations, args.messages
    );
    let (totals, load) = {
        let db = db.clone();
        let dataset = dataset.clone();
        tokio::task::spawn_blocking(move || db.load(&dataset)).await??
    };
    eprintln!(
        "inbox-bench: loaded in {:.1} s; VACUUM ANALYZE and CHECKPOINT…",
        load.as_secs_f64()
    );
    let vacuum_started = Instant::now();
    db.query(
        "VACUUM (ANALYZE) staff, conversations, messages, message_media, message_status_events",
    )
    .await?;
    db.query("CHECKPOINT").await?;
    let vacuum = vacuum_started.elapsed();
    let sizes = db
        .query(
            "SELECT string_agg(format('%s %s rows, %s', relname, to_char(n_live_tup, 'FM9,999,999,999'), \
             pg_size_pretty(pg_total_relation_size(relid))), '; ' ORDER BY relname) \
             FROM pg_stat_user_tables WHERE relname IN ('conversations', 'messages', 'message_media', 'message_status_events')",
        )
        .await?;
    let shares = db
        .query(
            "SELECT format('lead %s%%, contact %s%%, staff %s%%, general %s%%; open %s%%, pending %s%%, resolved %s%%, snoozed %s%%; unread %s%%; assigned %s%%; window open %s', \
             round(100.0 * count(*) FILTER (WHERE rel_type = 'lead') / count(*)), \
             round(100.0 * count(*) FILTER (WHERE rel_type = 'contact') / count(*)), \
             round(100.0 * count(*) FILTER (WHERE rel_type = 'staff') / count(*)), \
             round(100.0 * count(*) FILTER (WHERE rel_type = 'general') / count(*)), \
             round(100.0 * count(*) FILTER (WHERE status = 'open') / count(*)), \
             round(100.0 * count(*) FILTER (WHERE status = 'pending') / count(*)), \
             round(100.0 * count(*) FILTER (WHERE status = 'resolved') / count(*)), \
             round(100.0 * count(*) FILTER (WHERE status = 'snoozed') / count(*)), \
             round(100.0 * count(*) FILTER (WHERE unread_count > 0) / count(*)), \
             round(100.0 * count(*) FILTER (WHERE assigned_to IS NOT NULL) / count(*)), \
             count(*) FILTER (WHERE session_expires_at > now())) FROM conversations",
        )
        .await?;

    // Reads.
    waited.extend(wait_for_quiet(args.server_pid, args.wait_others, "measuring").await);
    let load_average = load_average();
    eprintln!("inbox-bench: timing reads (load average {load_average})…");
    let agent = staff.first().copied();
    let lead_open = Filter {
        rel_type: Some("lead"),
        status: Some("open"),
        ..Filter::default()
    };
    let unread = Filter {
        unread: Some(true),
        ..Filter::default()
    };
    let deep = args.deep_page;
    let mut cases = vec![
        case(
            "list by activity, no filter, first page",
            Filter::default(),
            1,
            args.samples,
        ),
        case(
            "list, rel_type=lead&status=open, first page",
            lead_open.clone(),
            1,
            args.samples,
        ),
        case(
            "list, unread=true, first page",
            unread.clone(),
            1,
            args.samples,
        ),
        case(
            "list, assigned_to=<agent>, first page",
            Filter {
                assigned_to: agent,
                ..Filter::default()
            },
            1,
            args.samples,
        ),
        case(
            &format!("list by activity, no filter, page {deep}"),
            Filter::default(),
            deep,
            args.samples,
        ),
        case(
            &format!("list, rel_type=lead&status=open, page {deep}"),
            lead_open,
            deep,
            args.samples,
        ),
        case(
            &format!("list, unread=true, page {deep}"),
            unread,
            deep,
            args.samples,
        ),
        Case {
            name: "history, random conversation, first page".into(),
            kind: Kind::History { long: false },
            samples: args.samples,
            targeted: true,
            warmup: None,
        },
        Case {
            name: "history, long conversation (100+), first page".into(),
            kind: Kind::History { long: true },
            samples: args.samples,
            targeted: true,
            warmup: None,
        },
        Case {
            name: "counts (per rel_type), no filter".into(),
            kind: Kind::Counts {
                filter: Filter::default(),
            },
            samples: args.samples,
            targeted: true,
            warmup: None,
        },
        Case {
            name: "counts, status=open&unread=true".into(),
            kind: Kind::Counts {
                filter: Filter {
                    status: Some("open"),
                    unread: Some(true),
                    ..Filter::default()
                },
            },
            samples: args.samples,
            targeted: true,
            warmup: None,
        },
    ];
    if !args.skip_search {
        let one_phone = dataset.conversation(args.conversations / 2).customer_phone;
        cases.push(Case {
            name: "search q=<common name>, first page".into(),
            kind: Kind::List {
                filter: Filter {
                    q: Some("Wanjiru".into()),
                    ..Filter::default()
                },
                page: 1,
            },
            samples: args.samples,
            targeted: true,
            warmup: None,
        });
        cases.push(Case {
            name: "search q=<one customer's phone>".into(),
            kind: Kind::List {
                filter: Filter {
                    q: Some(one_phone),
                    ..Filter::default()
                },
                page: 1,
            },
            samples: args.samples,
            targeted: true,
            warmup: None,
        });
        cases.push(Case {
            name: "search q=<word in no message or name>".into(),
            kind: Kind::List {
                filter: Filter {
                    q: Some("zanzibar".into()),
                    ..Filter::default()
                },
                page: 1,
            },
            samples: args.samples,
            targeted: true,
            warmup: None,
        });
        // A phrase in ~1 message in 12 (tens of thousands of conversations):
        // the trigram index finds them all before the order applies. Shown,
        // not held to the target (see bench/README.md).
        cases.push(Case {
            name: "search q=<phrase in many messages>".into(),
            kind: Kind::List {
                filter: Filter {
                    q: Some("delivery address".into()),
                    ..Filter::default()
                },
                page: 1,
            },
            samples: args.samples.min(20),
            targeted: false,
            warmup: Some(2),
        });
    }
    let mut runner = latency::Runner {
        api: &api,
        dataset: &dataset,
        db: &db,
        limit: args.page_size,
        warmup: args.warmup,
        rng: Rng::new(args.seed ^ 0x4157),
        case_warmup: args.warmup,
        long: (0..args.conversations)
            .filter(|i| dataset.message_count(*i) >= 100)
            .collect(),
    };
    // Warm the server and the caches once across the board.
    for i in 0..200 {
        let path = match i % 3 {
            0 => format!("/api/v1/conversations?limit={}", args.page_size),
            1 => format!("/api/v1/conversations?limit={}&unread=true", args.page_size),
            _ => format!(
                "/api/v1/conversations/{}/messages?limit={}",
                runner.dataset.conversation(i * 331 % args.conversations).id,
                args.page_size
            ),
        };
        api.get(&path).await?;
    }
    let mut results = Vec::new();
    let mut plans = Vec::new();
    for case in &cases {
        eprintln!("inbox-bench:   {}", case.name);
        let result = runner.run(case).await?;
        plans.extend(explain(&db, &result, args.explain, args.target_ms).await);
        results.push(result);
    }
    // Activity moves: 1,000 conversations spread over the whole inbox get a
    // message within the last hour (as wacrm records it), without a VACUUM
    // afterwards, then the activity order is timed again.
    db.query(
        "UPDATE conversations SET last_activity_at = now() - (random() * interval '1 hour') \
         WHERE id IN (SELECT id FROM conversations ORDER BY id OFFSET 7 LIMIT 100000) \
         AND abs(hashtext(id::text)) % 100 = 0",
    )
    .await?;
    for (name, page) in [
        (
            "list by activity after 1,000 moved up, first page".to_owned(),
            1,
        ),
        (
            format!("list by activity after 1,000 moved up, page {deep}"),
            deep,
        ),
    ] {
        let case = case(&name, Filter::default(), page, args.samples);
        eprintln!("inbox-bench:   {}", case.name);
        let result = runner.run(&case).await?;
        plans.extend(explain(&db, &result, args.explain, args.target_ms).await);
        results.push(result);
    }
    // A tidy inbox: agents have read all but the 30 newest unread
    // conversations. Last, as it changes the data the cases above read.
    if !args.skip_tidy {
        db.query(
            "UPDATE conversations SET unread_count = 0 WHERE unread_count > 0 AND id < \
             (SELECT id FROM conversations WHERE unread_count > 0 ORDER BY id DESC OFFSET 29 LIMIT 1)",
        )
        .await?;
        db.query("VACUUM (ANALYZE) conversations").await?;
        let case = case(
            "list, unread=true, first page, 30 unread",
            Filter {
                unread: Some(true),
                ..Filter::default()
            },
            1,
            args.samples,
        );
        eprintln!("inbox-bench:   {}", case.name);
        let result = runner.run(&case).await?;
        plans.extend(explain(&db, &result, args.explain, args.target_ms).await);
        results.push(result);
    }

    // Sends.
    let mut sends = Vec::new();
    if !args.skip_sends {
        let targets: Arc<Vec<Uuid>> = Arc::new(
            (0..args.conversations)
                .filter(|i| dataset.is_active(*i))
                .map(|i| dataset.conversation(i).id)
                .collect(),
        );
        if targets.is_empty() {
            bail!("no conversation has an open window (--active 0)");
        }
        for (phase, rate) in args.rate.iter().copied().enumerate() {
            if phase > 0 {
                api.expect(
                    Method::PATCH,
                    &format!("/api/v1/numbers/{number_id}"),
                    &json!({"messages_per_second": rate}),
                    StatusCode::OK,
                )
                .await
                .context("changing messages_per_second")?;
            }
            waited.extend(wait_for_quiet(args.server_pid, args.wait_others, "sending").await);
            let timeout = args
                .send_timeout
                .unwrap_or_else(|| (1.5 * args.sends as f64 / f64::from(rate)) as u64 + 120);
            eprintln!(
                "inbox-bench: sending {} messages at messages_per_second {rate} ({} in flight, timeout {timeout} s)…",
                args.sends, args.send_concurrency
            );
            let outcome = send::run(
                api.clone(),
                &db,
                &fake.record,
                send::Plan {
                    rate,
                    count: args.sends,
                    concurrency: args.send_concurrency,
                    targets: targets.clone(),
                    marker: format!("bench-{phase}-"),
                    timeout: Duration::from_secs(timeout),
                },
            )
            .await?;
            sends.push(outcome);
        }
    }
    let fake_requests = fake
        .record
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    fake.stop().await;

    print_report(
        &args,
        &Report {
            waited,
            totals,
            load,
            vacuum,
            sizes,
            shares,
            load_average,
            cases: results,
            plans,
            sends,
            fake_requests,
        },
    );
    Ok(())
}

/// EXPLAIN (ANALYZE, BUFFERS) of the case's SQL, when over target or asked for.
async fn explain(
    db: &Db,
    result: &CaseResult,
    always: bool,
    target_ms: f64,
) -> Vec<(String, String)> {
    let over = result.targeted && result.stats.p95 >= target_ms;
    let mut plans = Vec::new();
    if over || always {
        for sql in &result.sql {
            let plan = db
                .query(&format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"))
                .await
                .unwrap_or_else(|error| format!("(EXPLAIN failed: {error:#})"));
            plans.push((format!("{}: {sql}", result.name), plan));
        }
    }
    plans
}

fn case(name: &str, filter: Filter, page: usize, samples: usize) -> Case {
    Case {
        name: name.to_owned(),
        kind: Kind::List { filter, page },
        samples,
        targeted: true,
        warmup: None,
    }
}

/// Other benchmark processes: `ingest-bench`, or a `wacrm serve` that is not ours.
fn other_benchmarks(server_pid: Option<u32>) -> Vec<String> {
    let own = std::process::id();
    let mut found = Vec::new();
    for pattern in ["ingest-bench", "wacrm serve"] {
        let Ok(output) = std::process::Command::new("pgrep")
            .args(["-f", pattern])
            .output()
        else {
            continue;
        };
        for pid in String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.trim().parse::<u32>().ok())
        {
            if pid == own || Some(pid) == server_pid {
                continue;
            }
            // Only the programs themselves, not shells whose command line mentions them.
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let argv: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            let program = argv
                .first()
                .and_then(|arg| arg.rsplit('/').next())
                .unwrap_or_default();
            let is_match = match pattern {
                "ingest-bench" => program == "ingest-bench",
                _ => program == "wacrm" && argv.get(1).is_some_and(|arg| arg == "serve"),
            };
            if is_match {
                found.push(format!("{pid} {}", argv.join(" ")));
            }
        }
    }
    found
}

/// Waits (up to `limit` s) until no other benchmark runs; answers what was waited for.
async fn wait_for_quiet(server_pid: Option<u32>, limit: u64, before: &str) -> Vec<String> {
    let started = Instant::now();
    let mut notes = Vec::new();
    loop {
        let others = other_benchmarks(server_pid);
        if others.is_empty() {
            if !notes.is_empty() {
                notes.push(format!(
                    "before {before}: waited {:.0} s for them to end",
                    started.elapsed().as_secs_f64()
                ));
            }
            return notes;
        }
        if notes.is_empty() {
            eprintln!(
                "inbox-bench: waiting (up to {limit} s) before {before} for: {}",
                others.join(" | ")
            );
            notes.push(format!("before {before}: found {}", others.join(" | ")));
        }
        if started.elapsed() >= Duration::from_secs(limit) {
            notes.push(format!(
                "before {before}: STILL RUNNING after {limit} s; measured anyway (figures may be distorted)"
            ));
            return notes;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "?".into())
}

fn print_report(args: &Args, report: &Report) {
    let target = args.target_ms;
    println!("== inbox-bench: inbox and outbox ==");
    println!("target                {}", args.url);
    println!(
        "data                  {} conversations, {} messages, {} media, {} status events; {} with an open window",
        report.totals.conversations,
        report.totals.messages,
        report.totals.media,
        report.totals.status_events,
        args.active
    );
    println!("                      {}", report.shares);
    println!("tables                {}", report.sizes);
    println!(
        "load                  {:.1} s (COPY through psql, one transaction); VACUUM ANALYZE + CHECKPOINT {:.1} s",
        report.load.as_secs_f64(),
        report.vacuum.as_secs_f64()
    );
    for note in &report.waited {
        println!("other benchmarks      {note}");
    }
    println!(
        "-- reads: one request at a time, warm server, limit={}, {} warm-up requests per case; ms (client-side, loopback) --",
        args.page_size, args.warmup
    );
    println!("load average at start {}", report.load_average);
    println!(
        "{:<46} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7}  p95 < {target} ms",
        "case", "n", "mean", "p50", "p95", "p99", "max"
    );
    for result in &report.cases {
        let s = &result.stats;
        let verdict = match (result.targeted, s.p95 < target) {
            (true, true) => "PASS",
            (true, false) => "FAIL",
            (false, true) => "(info) under",
            (false, false) => "(info) over",
        };
        println!(
            "{:<46} {:>5} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2}  {verdict}",
            result.name, s.n, s.mean, s.p50, s.p95, s.p99, s.max
        );
    }
    println!("notes:");
    for result in &report.cases {
        println!("  {}: {}", result.name, result.note);
    }
    let failed: Vec<&str> = report
        .cases
        .iter()
        .filter(|r| r.targeted && r.stats.p95 >= target)
        .map(|r| r.name.as_str())
        .collect();
    if failed.is_empty() {
        println!("reads verdict         every targeted case has p95 < {target} ms");
    } else {
        println!("reads verdict         OVER TARGET: {}", failed.join("; "));
    }

    for outcome in &report.sends {
        println!(
            "-- sends: {} text messages queued through POST /api/v1/conversations/{{id}}/messages ({} in flight), delivered by wacrm's workers to the fake Meta API --",
            outcome.count, outcome.concurrency
        );
        println!("messages_per_second   {}", outcome.rate);
        println!(
            "queued (202)          {} of {} in {:.1} s ({:.0}/s); POST latency ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}",
            outcome.accepted,
            outcome.count,
            outcome.enqueue.as_secs_f64(),
            outcome.accepted as f64 / outcome.enqueue.as_secs_f64().max(1e-9),
            outcome.post_latency.p50,
            outcome.post_latency.p95,
            outcome.post_latency.p99,
            outcome.post_latency.max
        );
        if outcome.refused > 0 || outcome.transport_errors > 0 {
            println!(
                "NOT QUEUED            {} refused, {} transport errors",
                outcome.refused, outcome.transport_errors
            );
            for (status, body) in &outcome.refusals {
                println!(
                    "  e.g. {status} {}",
                    body.chars().take(400).collect::<String>()
                );
            }
            if let Some(error) = &outcome.first_transport_error {
                println!("  first transport error: {error}");
            }
        }
        println!(
            "provider received     {} requests ({} distinct messages){}",
            outcome.arrived,
            outcome.distinct,
            if outcome.timed_out {
                "  — TIMED OUT before all arrived"
            } else {
                ""
            }
        );
        if let Some(rate) = &outcome.provider {
            println!(
                "achieved rate         {:.2} msgs/s over {:.2} s (first to last provider request) = {:.3} x the limit of {}",
                rate.rate,
                rate.span.as_secs_f64(),
                rate.rate / f64::from(outcome.rate),
                outcome.rate
            );
            println!(
                "busiest 1-s window    {} requests (limit {}; perfect pacing gives limit + 1 in a closed second, arrival jitter a little more)",
                rate.busiest_second, outcome.rate
            );
            println!(
                "while queueing        {} requests in {:.1} s = {:.2}/s (POSTs and deliveries share the machine)",
                outcome.arrived - rate.after_enqueue,
                outcome.enqueue.as_secs_f64(),
                (outcome.arrived - rate.after_enqueue) as f64
                    / outcome.enqueue.as_secs_f64().max(1e-9)
            );
            println!(
                "after queueing ended  {} requests{}; first provider request {:.2} s after the first POST, last {:.2} s after the last 202",
                rate.after_enqueue,
                rate.after_enqueue_rate
                    .map_or_else(String::new, |r| format!(" at {r:.2}/s")),
                rate.first_delay.as_secs_f64(),
                rate.drain.as_secs_f64()
            );
        }
        let statuses = outcome
            .statuses
            .iter()
            .map(|(status, n)| format!("{status} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sent = outcome
            .statuses
            .iter()
            .find(|(status, _)| status == "sent")
            .map_or(0, |(_, n)| *n);
        println!(
            "final statuses (SQL)  {statuses}  => {}",
            if sent == outcome.count as i64 && outcome.statuses.len() == 1 {
                "all sent".to_owned()
            } else {
                format!("NOT all sent ({sent} of {})", outcome.count)
            }
        );
        let jobs = outcome
            .jobs_left
            .iter()
            .map(|(status, n)| format!("{status} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "deliver_message jobs  {}",
            if jobs.is_empty() {
                "none left".to_owned()
            } else {
                format!("left: {jobs}")
            }
        );
    }
    if !report.sends.is_empty() {
        println!(
            "fake provider         {} requests in all (sends, mark-read, template syncs); answer delay {} ms",
            report.fake_requests, args.provider_latency_ms
        );
    }
    if !report.plans.is_empty() {
        println!("-- query plans (EXPLAIN ANALYZE, BUFFERS) --");
        for (what, plan) in &report.plans {
            println!("# {}", what.chars().take(400).collect::<String>());
            println!("{plan}");
        }
    }
}
