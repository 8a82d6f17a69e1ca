//! A stand-in for a provider's HTTP API: answers what a test scripted for a
//! method and path, and records every request (method, path, headers, body)
//! so the test can assert exactly what wacrm sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: web::Bytes,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Clone)]
struct Scripted {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<(String, String), Vec<Scripted>>>,
    requests: Mutex<Vec<Recorded>>,
}

pub struct FakeProvider {
    pub base_url: String,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeProvider {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(answer))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .expect("binding the fake provider");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            shared,
            handle,
        }
    }

    /// Answers `method path` with `status` and `body`. Scripting the same route
    /// again queues another answer: answers are used in order, the last repeats.
    pub fn script(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) {
        let answer = Scripted {
            status,
            content_type: content_type.into(),
            body: body.into(),
        };
        self.shared
            .routes
            .lock()
            .unwrap()
            .entry((method.to_owned(), path.to_owned()))
            .or_default()
            .push(answer);
    }

    pub fn script_json(&self, method: &str, path: &str, status: u16, body: serde_json::Value) {
        self.script(method, path, status, "application/json", body.to_string());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn answer(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let method = request.method().to_string();
    let path = request.path().to_owned();
    shared.requests.lock().unwrap().push(Recorded {
        method: method.clone(),
        path: path.clone(),
        query: request.query_string().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.to_string(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body,
    });
    let mut routes = shared.routes.lock().unwrap();
    let Some(answers) = routes.get_mut(&(method, path)) else {
        return HttpResponse::NotFound().json(serde_json::json!({"error": "not scripted"}));
    };
    let answer = if answers.len() > 1 {
        answers.remove(0)
    } else {
        answers[0].clone()
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(answer.status).unwrap())
        .content_type(answer.content_type)
        .body(answer.body)
}
