//! The integrator's side: a receiver that accepts every delivery with 204
//! after checking its Standard Webhooks signature against the secrets it was
//! given, and remembers when each arrived and how late.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Default)]
struct State {
    keys: Vec<Vec<u8>>,
    ids: HashSet<String>,
    first: Option<Instant>,
    last: Option<Instant>,
    received: usize,
    invalid: usize,
    repeated: usize,
    delays_ms: Vec<f64>,
}

pub struct Receiver {
    pub url: String,
    state: web::Data<Mutex<State>>,
}

pub struct Report {
    pub received: usize,
    pub invalid: usize,
    pub repeated: usize,
    pub span: Duration,
    pub last_at: Instant,
    delays_ms: Vec<f64>,
}

impl Report {
    pub fn delay_ms(&self, quantile: f64) -> f64 {
        if self.delays_ms.is_empty() {
            return 0.0;
        }
        let index = ((self.delays_ms.len() - 1) as f64 * quantile).round() as usize;
        self.delays_ms[index.min(self.delays_ms.len() - 1)]
    }
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let state = web::Data::new(Mutex::new(State::default()));
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .context("binding the receiver")?;
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
        })
    }

    pub fn add_secret(&self, secret: &str) -> anyhow::Result<()> {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").context("a whsec_ secret")?)
            .context("a base64 secret")?;
        self.lock().keys.push(key);
        Ok(())
    }

    pub fn count(&self) -> usize {
        self.lock().received
    }

    pub fn report(&self) -> Report {
        let state = self.lock();
        let mut delays_ms = state.delays_ms.clone();
        delays_ms.sort_by(f64::total_cmp);
        let now = Instant::now();
        Report {
            received: state.received,
            invalid: state.invalid,
            repeated: state.repeated,
            span: match (state.first, state.last) {
                (Some(first), Some(last)) => last - first,
                _ => Duration::ZERO,
            },
            last_at: state.last.unwrap_or(now),
            delays_ms,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let now = Instant::now();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signatures) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let sent_at = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|doc| doc["timestamp"].as_str().map(str::to_owned))
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(&text).ok());
    let mut state = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let valid = state.keys.iter().any(|key| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
            return false;
        };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(&body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        signatures.split(' ').any(|given| given == expected)
    });
    state.received += 1;
    if !valid {
        state.invalid += 1;
    }
    if !state.ids.insert(format!("{}{id}", request.path())) {
        state.repeated += 1;
    }
    state.first.get_or_insert(now);
    state.last = Some(now);
    if let Some(sent_at) = sent_at {
        let delay = chrono::Utc::now().signed_duration_since(sent_at);
        state
            .delays_ms
            .push(delay.num_microseconds().unwrap_or(0) as f64 / 1000.0);
    }
    HttpResponse::NoContent().finish()
}
