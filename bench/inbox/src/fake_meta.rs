//! A fake Meta Graph API on 127.0.0.1: answers `POST /{version}/{phone_number_id}/messages`
//! with a fresh wamid (as Meta does), and records when each benchmark message arrived.
//!
//! It runs actix-web on a thread of its own (actix's own runtime), so the
//! benchmark's tokio runtime and the fake never share a thread's scheduling.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::{Context as _, anyhow};
use serde_json::{Value, json};

/// What the fake saw; shared between its handlers and the benchmark.
#[derive(Default)]
pub struct Record {
    /// Every request, of any kind.
    pub requests: AtomicU64,
    /// Sends carrying the current marker: arrival time and the message's
    /// sequence number (parsed from its text).
    arrivals: Mutex<Vec<(Instant, u64)>>,
    /// The text prefix the current phase's messages carry.
    marker: Mutex<String>,
    wamids: AtomicU64,
}

/// The sends of one phase as the provider saw them.
pub struct Arrivals {
    /// Sorted arrival times.
    pub times: Vec<Instant>,
    /// Distinct sequence numbers seen (duplicates = `times.len() - distinct`).
    pub distinct: usize,
}

impl Record {
    /// Starts counting sends whose text starts with `marker`; forgets the previous phase.
    pub fn start_phase(&self, marker: &str) -> anyhow::Result<()> {
        *self.marker.lock().map_err(|_| anyhow!("lock poisoned"))? = marker.to_owned();
        self.arrivals
            .lock()
            .map_err(|_| anyhow!("lock poisoned"))?
            .clear();
        Ok(())
    }

    pub fn arrived(&self) -> usize {
        self.arrivals.lock().map_or(0, |arrivals| arrivals.len())
    }

    pub fn arrivals(&self) -> anyhow::Result<Arrivals> {
        let arrivals = self.arrivals.lock().map_err(|_| anyhow!("lock poisoned"))?;
        let mut times: Vec<Instant> = arrivals.iter().map(|(at, _)| *at).collect();
        times.sort();
        let distinct = arrivals
            .iter()
            .map(|(_, seq)| *seq)
            .collect::<HashSet<_>>()
            .len();
        Ok(Arrivals { times, distinct })
    }

    fn note_send(&self, body: &Value, at: Instant) {
        let text = body["text"]["body"].as_str().unwrap_or_default();
        let Ok(marker) = self.marker.lock() else {
            return;
        };
        if marker.is_empty() {
            return;
        }
        let Some(rest) = text.strip_prefix(marker.as_str()) else {
            return;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let seq = digits.parse().unwrap_or(u64::MAX);
        drop(marker);
        if let Ok(mut arrivals) = self.arrivals.lock() {
            arrivals.push((at, seq));
        }
    }
}

pub struct FakeMeta {
    pub base_url: String,
    pub record: Arc<Record>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Settings {
    record: Arc<Record>,
    latency: Duration,
}

impl FakeMeta {
    /// Starts the fake on a free loopback port; each answer waits `latency` first.
    pub fn start(latency: Duration) -> anyhow::Result<Self> {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("binding the fake Meta API")?;
        let port = listener.local_addr()?.port();
        let record = Arc::new(Record::default());
        let settings = web::Data::new(Settings {
            record: record.clone(),
            latency,
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fake-meta".into())
            .spawn(move || {
                let system = actix_web::rt::System::new();
                let started = system.block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(settings.clone())
                            .app_data(web::PayloadConfig::new(1 << 20))
                            .route("/{version}/{number}/messages", web::post().to(messages))
                            .route(
                                "/{version}/{waba}/message_templates",
                                web::get().to(templates),
                            )
                            .default_service(web::to(not_found))
                    })
                    .workers(2)
                    .disable_signals()
                    .listen(listener)?
                    .run();
                    Ok::<_, std::io::Error>(server)
                });
                match started {
                    Ok(server) => {
                        let _ = tx.send(Ok(server.handle()));
                        let _ = system.block_on(server);
                    }
                    Err(error) => {
                        let _ = tx.send(Err(error));
                    }
                }
            })?;
        let handle = rx
            .recv()
            .context("the fake Meta API thread ended")?
            .context("starting the fake Meta API")?;
        Ok(Self {
            base_url: format!("http://127.0.0.1:{port}"),
            record,
            handle,
            thread: Some(thread),
        })
    }

    pub async fn stop(mut self) {
        self.handle.stop(false).await;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

async fn messages(settings: web::Data<Settings>, body: web::Bytes) -> HttpResponse {
    let at = Instant::now();
    let record = &settings.record;
    record.requests.fetch_add(1, Ordering::Relaxed);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !settings.latency.is_zero() {
        actix_web::rt::time::sleep(settings.latency).await;
    }
    if body["status"] == "read" {
        return HttpResponse::Ok().json(json!({"success": true}));
    }
    record.note_send(&body, at);
    let n = record.wamids.fetch_add(1, Ordering::Relaxed);
    let to = body["to"].as_str().unwrap_or_default().to_owned();
    HttpResponse::Ok().json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.HBgMBENCH{n:012}")}],
    }))
}

async fn templates(settings: web::Data<Settings>) -> HttpResponse {
    settings.record.requests.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().json(json!({"data": [], "paging": {}}))
}

async fn not_found(settings: web::Data<Settings>, request: HttpRequest) -> HttpResponse {
    settings.record.requests.fetch_add(1, Ordering::Relaxed);
    HttpResponse::NotFound().json(json!({"error": {
        "message": format!("fake Meta API: no route for {} {}", request.method(), request.path()),
        "type": "GraphMethodException", "code": 100,
    }}))
}
