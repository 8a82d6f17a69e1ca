//! A fake provider for the clients' tests: a real HTTP server on 127.0.0.1 that
//! records every request it gets and answers what the test scripted, per method and
//! path, in order (404 when nothing is scripted).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;

#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[derive(Clone)]
struct Scripted {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    answers: Mutex<HashMap<(String, String), VecDeque<Scripted>>>,
}

pub(crate) struct FakeProvider {
    pub base_url: String,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeProvider {
    /// A server whose API lives under `prefix` (e.g. `/api/v1`, or `` for the root).
    pub(crate) async fn start(prefix: &str) -> Self {
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(answer))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let address = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base_url: format!("http://{address}{prefix}"),
            shared,
            handle,
        }
    }

    /// The next request to `method path` gets this answer.
    pub(crate) fn answer(&self, method: &str, path: &str, status: u16, body: Value) {
        self.answer_with(method, path, status, &[], &body.to_string());
    }

    pub(crate) fn answer_with(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) {
        let scripted = Scripted {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body: body.to_owned(),
        };
        self.shared
            .answers
            .lock()
            .unwrap()
            .entry((method.to_owned(), path.to_owned()))
            .or_default()
            .push_back(scripted);
    }

    /// Every request so far, in arrival order; forgets them.
    pub(crate) fn take_requests(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.shared.requests.lock().unwrap())
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stopping is async; the test's runtime may already be winding down.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { handle.stop(false).await });
        }
    }
}

async fn answer(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let method = request.method().to_string();
    let path = request.path().to_owned();
    let recorded = Recorded {
        method: method.clone(),
        path: path.clone(),
        query: request.query_string().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    shared.requests.lock().unwrap().push(recorded);
    let scripted = shared
        .answers
        .lock()
        .unwrap()
        .get_mut(&(method, path))
        .and_then(VecDeque::pop_front);
    match scripted {
        Some(scripted) => {
            let mut response = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(scripted.status).unwrap(),
            );
            response.content_type("application/json");
            for (name, value) in scripted.headers {
                response.insert_header((name, value));
            }
            response.body(scripted.body)
        }
        None => HttpResponse::NotFound()
            .content_type("application/json")
            .body(r#"{"error":"nothing scripted"}"#),
    }
}

/// Fixtures the clients' tests share.
pub(crate) mod fixtures {
    use serde_json::json;
    use uuid::Uuid;
    use wacrm_domain::outbound::{
        ButtonParam, ButtonSubType, Interactive, ListRow, ListSection, Media, OutboundContent,
        OutboundMessage, ReplyButton, TemplateHeader,
    };

    use crate::call::CallRecord;

    pub(crate) const CLIENT_ID: &str = "5c7be224-be61-4aa5-97aa-98906f1f6d15";
    pub(crate) const CUSTOMER: &str = "254700000001";

    pub(crate) fn message(content: OutboundContent) -> OutboundMessage {
        OutboundMessage {
            client_id: Uuid::parse_str(CLIENT_ID).unwrap(),
            to: CUSTOMER.into(),
            to_user_id: None,
            content,
            reply_to: None,
        }
    }

    pub(crate) fn text(text: &str) -> OutboundContent {
        OutboundContent::Text {
            text: text.into(),
            preview_url: false,
        }
    }

    pub(crate) fn linked(link: &str) -> Media {
        Media {
            link: Some(link.into()),
            ..Media::default()
        }
    }

    pub(crate) fn template() -> OutboundContent {
        OutboundContent::Template {
            name: "declined_transfert".into(),
            language: "en".into(),
            header: Some(TemplateHeader::Image {
                link: Some("https://picsum.photos/id/237/200/300".into()),
                media_id: None,
            }),
            body_params: vec!["John".into(), "Airtime".into()],
            button_params: vec![ButtonParam {
                index: 0,
                sub_type: ButtonSubType::Url,
                param: "INV-1001".into(),
            }],
            body_param_names: vec![],
            header_param_name: None,
        }
    }

    pub(crate) fn buttons() -> OutboundContent {
        OutboundContent::Interactive(Interactive::Buttons {
            body: "Interested in our products?".into(),
            header: None,
            footer: None,
            buttons: vec![
                ReplyButton {
                    id: "1".into(),
                    title: "YES".into(),
                },
                ReplyButton {
                    id: "2".into(),
                    title: "NO".into(),
                },
            ],
        })
    }

    pub(crate) fn list() -> OutboundContent {
        OutboundContent::Interactive(Interactive::List {
            body: "Please choose a product".into(),
            header: Some("Welcome".into()),
            footer: None,
            button: "Click Here".into(),
            sections: vec![ListSection {
                title: Some("Airtime".into()),
                rows: vec![ListRow {
                    id: "SAFARICOM_AIRTIME".into(),
                    title: "Safaricom".into(),
                    description: Some("mpesa network".into()),
                }],
            }],
        })
    }

    pub(crate) fn cta_url() -> OutboundContent {
        OutboundContent::Interactive(Interactive::CtaUrl {
            body: "Track your order".into(),
            header: None,
            footer: None,
            display_text: "Track".into(),
            url: "https://shop.example/track/1042".into(),
        })
    }

    pub(crate) fn location() -> OutboundContent {
        OutboundContent::Location {
            latitude: -1.2921,
            longitude: 36.8219,
            name: Some("Office".into()),
            address: Some("Kenyatta Ave".into()),
        }
    }

    pub(crate) fn contacts() -> OutboundContent {
        OutboundContent::Contacts {
            contacts: vec![
                json!({"name": {"formatted_name": "Asha Otieno", "first_name": "Asha"},
                                  "phones": [{"phone": "+254700000002", "type": "CELL"}]}),
            ],
        }
    }

    pub(crate) fn reaction() -> OutboundContent {
        OutboundContent::Reaction {
            message_id: "wamid.INBOUND".into(),
            emoji: "👍".into(),
        }
    }

    /// The activity log must never hold a credential, in any field.
    pub(crate) fn assert_no_secret(calls: &[CallRecord], secret: &str) {
        let written = format!("{calls:?}");
        assert!(
            !written.contains(secret),
            "a record holds the secret: {written}"
        );
    }
}
