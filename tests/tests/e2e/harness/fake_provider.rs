//! A stand-in for a provider's HTTP API: answers what a test scripted for a
//! method and path, and records every request (method, path, headers, body)
//! so the test can assert exactly what wacrm sent.
//!
//! Each scripted answer is used once, in order; a route that should answer
//! any number of requests says so with [`FakeProvider::script_json_each`]. A
//! request to a scripted route with no answer left gets a 500 and fails the
//! test when the fake is dropped: repeating the last answer would hide, e.g.,
//! two sends given one provider message id.

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
    /// Extra response headers (e.g. `Retry-After`).
    headers: Vec<(String, String)>,
}

/// Makes the answer to the `n`th request (from 1) that the queue left to it.
type Answerer = Arc<dyn Fn(usize) -> Scripted + Send + Sync>;

#[derive(Default)]
struct Route {
    /// Used once each, in order.
    queued: std::collections::VecDeque<Scripted>,
    /// Answers every request once `queued` is used up.
    always: Option<Answerer>,
    /// How many requests `always` answered.
    answered_always: usize,
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<(String, String), Route>>,
    requests: Mutex<Vec<Recorded>>,
    /// Requests to a scripted route that had no answer left.
    unanswered: Mutex<Vec<String>>,
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

    /// Answers the next request to `method path` with `status` and `body`,
    /// once. Scripting the same route again queues another answer.
    pub fn script(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) {
        self.script_with_headers(method, path, status, &[], content_type, body);
    }

    /// [`FakeProvider::script`] with extra response headers.
    pub fn script_with_headers(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &[(&str, &str)],
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) {
        let answer = Scripted {
            status,
            content_type: content_type.into(),
            body: body.into(),
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        };
        self.route(method, path, |route| route.queued.push_back(answer));
    }

    pub fn script_json(&self, method: &str, path: &str, status: u16, body: serde_json::Value) {
        self.script(method, path, status, "application/json", body.to_string());
    }

    /// Answers every request to `method path` (after any queued answers) with
    /// `status` and the JSON `body(n)` for the `n`th such request (from 1):
    /// e.g. sends, each accepted under an id of its own.
    pub fn script_json_each(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: impl Fn(usize) -> serde_json::Value + Send + Sync + 'static,
    ) {
        self.route(method, path, |route| {
            route.always = Some(Arc::new(move |n| Scripted {
                status,
                content_type: "application/json".into(),
                body: body(n).to_string().into_bytes(),
                headers: Vec::new(),
            }));
        });
    }

    fn route(&self, method: &str, path: &str, change: impl FnOnce(&mut Route)) {
        change(
            self.shared
                .routes
                .lock()
                .unwrap()
                .entry((method.to_owned(), path.to_owned()))
                .or_default(),
        );
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
        let unanswered = self.shared.unanswered.lock().unwrap().clone();
        // Not while the test is already failing: that would abort the run.
        if !unanswered.is_empty() && !std::thread::panicking() {
            panic!(
                "the fake provider got more requests than scripted (script more answers, \
                 or script_json_each for a route answering any number): {unanswered:?}"
            );
        }
    }
}

async fn answer(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let method = request.method().to_string();
    let path = request.path().to_owned();
    // Recorded and answered under the routes' lock: the n-th request recorded
    // on a route is the one `script_json_each` answers with `body(n)`.
    let mut routes = shared.routes.lock().unwrap();
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
    let Some(route) = routes.get_mut(&(method.clone(), path.clone())) else {
        return HttpResponse::NotFound().json(serde_json::json!({"error": "not scripted"}));
    };
    let answer = route.queued.pop_front().or_else(|| {
        let always = route.always.clone()?;
        route.answered_always += 1;
        Some(always(route.answered_always))
    });
    let Some(answer) = answer else {
        shared
            .unanswered
            .lock()
            .unwrap()
            .push(format!("{method} {path}"));
        return HttpResponse::InternalServerError()
            .json(serde_json::json!({"error": "the fake provider has no answer left"}));
    };
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(answer.status).unwrap());
    for (name, value) in answer.headers {
        response.insert_header((name, value));
    }
    response.content_type(answer.content_type).body(answer.body)
}
