//! Webhooks for integrators: an admin registers an endpoint; what happens in
//! the inbox reaches it as Standard Webhooks deliveries, checked here with the
//! published `standardwebhooks` crate (an implementation independent of ours);
//! failures are retried on the clock, 410 and a run of failures disable the
//! endpoint, and deliveries can be inspected and replayed.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::fake_provider::{FakeProvider, Recorded};
use crate::inbound::Inbox;

const HOOK: &str = "/hooks/wacrm";
const APP_SECRET: &str = "meta-app-secret";
const PHONE_NUMBER_ID: &str = "106540352242922";

/// Registers an endpoint at `receiver` for `event_types`; answers (id, secret).
async fn endpoint(
    app: &TestApp,
    admin: &str,
    receiver: &FakeProvider,
    event_types: &[&str],
) -> (String, String) {
    let created = app
        .post(
            "/api/v1/webhook-endpoints",
            admin,
            json!({"url": format!("{}{HOOK}", receiver.base_url), "description": "CRM sync",
                   "event_types": event_types}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    (
        created.body["id"].as_str().unwrap().to_owned(),
        created.body["secret"].as_str().unwrap().to_owned(),
    )
}

/// Creates a lead through the API: its `lead.created` event is the simplest
/// change to watch go out.
async fn create_lead(app: &TestApp, admin: &str, name: &str) -> String {
    let lead = app
        .post("/api/v1/leads", admin, json!({"name": name}))
        .await;
    assert_eq!(lead.status, StatusCode::CREATED, "{}", lead.body);
    lead.body["id"].as_str().unwrap().to_owned()
}

/// Verifies a received request as an integrator would, with `secret`.
fn verify(secret: &str, request: &Recorded) -> Result<(), standardwebhooks::WebhookError> {
    let mut headers = http::HeaderMap::new();
    for (name, value) in &request.headers {
        headers.insert(
            http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::header::HeaderValue::from_str(value).unwrap(),
        );
    }
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&request.body, &headers)
}

fn received(receiver: &FakeProvider) -> Vec<Recorded> {
    receiver.requests_to("POST", HOOK)
}

fn of_type(requests: &[Recorded], kind: &str) -> Vec<Recorded> {
    requests
        .iter()
        .filter(|request| request.json()["type"] == kind)
        .cloned()
        .collect()
}

async fn deliveries(app: &TestApp, admin: &str, endpoint: &str, query: &str) -> Vec<Value> {
    let answer = app
        .get(
            &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries{query}"),
            admin,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["items"].as_array().unwrap().clone()
}

async fn delivery(app: &TestApp, admin: &str, endpoint: &str, id: &str) -> Value {
    let answer = app
        .get(
            &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries/{id}"),
            admin,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

async fn get_endpoint(app: &TestApp, admin: &str, endpoint: &str) -> Value {
    let answer = app
        .get(&format!("/api/v1/webhook-endpoints/{endpoint}"), admin)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

fn inbound_text(from: &str, wamid: &str, text: &str) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Wanjiru K"}, "wa_id": from}],
            "messages": [{"from": from, "id": wamid, "timestamp": Utc::now().timestamp().to_string(),
                          "type": "text", "text": {"body": text}}],
        }
    }]}]})
}

#[tokio::test]
async fn a_received_message_and_what_agents_do_reach_the_endpoint_signed() {
    let inbox = Inbox::new(
        "meta",
        json!({"access_token": "EAAG-test-token", "app_secret": APP_SECRET, "verify_token": "verify-me", "waba_id": "102290129340398"}),
        json!({"phone": "+1 555 010 0999", "provider_number_id": PHONE_NUMBER_ID, "is_default": true}),
    )
    .await;
    let (app, admin) = (&inbox.app, inbox.admin.as_str());
    let receiver = FakeProvider::start().await;
    receiver.script_json_each("POST", HOOK, 204, |_| json!({}));
    let (endpoint_id, secret) = endpoint(
        app,
        admin,
        &receiver,
        &[
            "message.received",
            "conversation.created",
            "conversation.assigned",
            "conversation.resolved",
            "lead.created",
        ],
    )
    .await;
    let auto_lead = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/auto-lead",
            Some(admin),
            Some(json!({"enabled": true, "status_id": null, "source_id": null, "assigned_staff_id": null})),
        )
        .await;
    assert_eq!(auto_lead.status, StatusCode::OK, "{}", auto_lead.body);

    // A customer writes; Meta tells us, signed.
    let posted = inbox
        .post_meta(
            APP_SECRET,
            &inbound_text("254712345678", "wamid.hello", "Hello, is this open?"),
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK);
    app.run_jobs().await;

    let (conversation, messages) = inbox.only_conversation().await;
    let requests = received(&receiver);
    for request in &requests {
        verify(&secret, request).expect("a valid Standard Webhooks signature");
        assert_eq!(request.headers["content-type"], "application/json");
        let timestamp: i64 = request.headers["webhook-timestamp"].parse().unwrap();
        assert!((Utc::now().timestamp() - timestamp).abs() < 60);
    }
    let message = of_type(&requests, "message.received");
    assert_eq!(message.len(), 1, "{requests:?}");
    let body = message[0].json();
    assert_eq!(body["data"]["message_id"], messages[0]["id"]);
    assert_eq!(body["data"]["conversation_id"], conversation["id"]);
    assert_eq!(body["data"]["direction"], "inbound");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &message[0]).is_err());
    let created = of_type(&requests, "conversation.created");
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0].json()["data"]["conversation_id"],
        conversation["id"]
    );
    let lead = of_type(&requests, "lead.created");
    assert_eq!(lead.len(), 1);
    assert_eq!(lead[0].json()["data"]["lead_id"], conversation["rel_id"]);
    assert_eq!(lead[0].json()["data"]["source"], "auto_lead");

    // The webhook-id is the delivery's id, listed with its outcome.
    let listed = deliveries(app, admin, &endpoint_id, "?event_type=message.received").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0]["id"].as_str(),
        Some(message[0].headers["webhook-id"].as_str())
    );
    assert_eq!(listed[0]["status"], "succeeded");
    let detail = delivery(app, admin, &endpoint_id, listed[0]["id"].as_str().unwrap()).await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(detail["attempts"][0]["status_code"], 204);

    // An agent takes the conversation and resolves it.
    let conversation_id = conversation["id"].as_str().unwrap();
    let (agent, _) = app.staff_with(&["whatsapp_chat:view"]).await;
    let assigned = app
        .post(
            &format!("/api/v1/conversations/{conversation_id}/assign"),
            admin,
            json!({"staff_id": agent}),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    let resolved = app
        .post(
            &format!("/api/v1/conversations/{conversation_id}/status"),
            admin,
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.body);
    app.run_jobs().await;
    let requests = received(&receiver);
    let assignment = of_type(&requests, "conversation.assigned");
    assert_eq!(assignment.len(), 1);
    assert_eq!(assignment[0].json()["data"]["staff_id"], agent.as_str());
    assert_eq!(of_type(&requests, "conversation.resolved").len(), 1);
    // Events it did not subscribe to (message statuses, SSE-only ones) never come.
    assert!(
        requests
            .iter()
            .all(|request| request.json()["type"] != "conversation.updated")
    );
}

#[tokio::test]
async fn a_failed_delivery_is_retried_on_the_clock_with_the_same_webhook_id() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let receiver = FakeProvider::start().await;
    receiver.script("POST", HOOK, 500, "text/plain", "down for maintenance");
    receiver.script("POST", HOOK, 200, "application/json", "{}");
    let (endpoint_id, secret) = endpoint(&app, &admin, &receiver, &["lead.created"]).await;

    create_lead(&app, &admin, "Amina").await;
    app.run_jobs().await;
    assert_eq!(received(&receiver).len(), 1);
    let listed = deliveries(&app, &admin, &endpoint_id, "").await;
    assert_eq!(listed[0]["status"], "pending");
    assert_eq!(listed[0]["last_status_code"], 500);

    // Not before the schedule's 5 seconds...
    app.clock().advance(Duration::seconds(3));
    app.run_jobs().await;
    assert_eq!(received(&receiver).len(), 1);
    // ...and then, with the same id.
    app.clock().advance(Duration::seconds(3));
    app.run_jobs().await;
    let requests = received(&receiver);
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].headers["webhook-id"],
        requests[1].headers["webhook-id"]
    );
    assert_eq!(requests[0].body, requests[1].body);
    verify(&secret, &requests[1]).unwrap();
    let detail = delivery(
        &app,
        &admin,
        &endpoint_id,
        listed[0]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(detail["status"], "succeeded");
    let codes: Vec<&Value> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| &attempt["status_code"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(200)]);
    assert_eq!(
        detail["attempts"][0]["response_body"],
        "down for maintenance"
    );
    assert_eq!(
        detail["attempts"][0]["error"],
        "the receiver answered HTTP 500"
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let receiver = FakeProvider::start().await;
    receiver.script_with_headers(
        "POST",
        HOOK,
        429,
        &[("retry-after", "120")],
        "application/json",
        "{}",
    );
    receiver.script("POST", HOOK, 200, "application/json", "{}");
    endpoint(&app, &admin, &receiver, &["lead.created"]).await;

    create_lead(&app, &admin, "Amina").await;
    app.run_jobs().await;
    app.clock().advance(Duration::seconds(10));
    app.run_jobs().await;
    assert_eq!(received(&receiver).len(), 1, "the receiver asked for 120 s");
    app.clock().advance(Duration::seconds(115));
    app.run_jobs().await;
    assert_eq!(received(&receiver).len(), 2);
}

#[tokio::test]
async fn gone_disables_the_endpoint_at_once_and_says_so() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let receiver = FakeProvider::start().await;
    receiver.script("POST", HOOK, 410, "application/json", "{}");
    let (endpoint_id, _) = endpoint(&app, &admin, &receiver, &["lead.created"]).await;
    let watcher = FakeProvider::start().await;
    watcher.script_json_each("POST", HOOK, 200, |_| json!({}));
    endpoint(&app, &admin, &watcher, &["endpoint.disabled"]).await;

    create_lead(&app, &admin, "Amina").await;
    app.run_jobs().await;
    let gone = get_endpoint(&app, &admin, &endpoint_id).await;
    assert_eq!(gone["enabled"], false);
    assert_eq!(gone["disabled_reason"], "gone");
    let listed = deliveries(&app, &admin, &endpoint_id, "?status=failed").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["last_status_code"], 410);
    let told = received(&watcher);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].json()["type"], "endpoint.disabled");
    assert_eq!(told[0].json()["data"]["endpoint_id"], endpoint_id.as_str());
    assert_eq!(told[0].json()["data"]["reason"], "gone");

    // Nothing more goes there, not even after a day.
    create_lead(&app, &admin, "Baraka").await;
    app.clock().advance(Duration::days(1));
    app.run_jobs().await;
    assert_eq!(received(&receiver).len(), 1);
    // Replaying to a disabled endpoint is refused until it is enabled again.
    let replay = app
        .post(
            &format!("/api/v1/webhook-endpoints/{endpoint_id}/replay"),
            &admin,
            json!({"since": Utc::now() - Duration::hours(1), "until": Utc::now() + Duration::hours(1)}),
        )
        .await;
    assert_eq!(replay.status, StatusCode::CONFLICT);
    assert_eq!(replay.problem_code(), "endpoint_disabled");
    let enabled = app
        .patch(
            &format!("/api/v1/webhook-endpoints/{endpoint_id}"),
            &admin,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(enabled.status, StatusCode::OK);
    assert_eq!(enabled.body["disabled_reason"], Value::Null);
}

#[tokio::test]
async fn a_run_of_failed_deliveries_disables_the_endpoint() {
    let app = TestApp::spawn_with(&[("WACRM_WEBHOOK_DISABLE_AFTER_FAILURES", "2")]).await;
    let admin = app.admin_token().await;
    let receiver = FakeProvider::start().await;
    receiver.script_json_each("POST", HOOK, 503, |_| json!({"error": "down"}));
    let (endpoint_id, _) = endpoint(&app, &admin, &receiver, &["lead.created"]).await;
    let watcher = FakeProvider::start().await;
    watcher.script_json_each("POST", HOOK, 200, |_| json!({}));
    endpoint(&app, &admin, &watcher, &["endpoint.disabled"]).await;

    create_lead(&app, &admin, "Amina").await;
    create_lead(&app, &admin, "Baraka").await;
    app.run_jobs().await;
    // The schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (+ up to 10 %).
    for _ in 0..7 {
        assert_eq!(
            get_endpoint(&app, &admin, &endpoint_id).await["enabled"],
            true
        );
        app.clock().advance(Duration::hours(11));
        app.run_jobs().await;
    }
    assert_eq!(
        received(&receiver).len(),
        16,
        "8 attempts for each of 2 deliveries"
    );
    let failing = get_endpoint(&app, &admin, &endpoint_id).await;
    assert_eq!(failing["enabled"], false);
    assert_eq!(failing["disabled_reason"], "failing");
    assert_eq!(failing["consecutive_failures"], 2);
    let failed = deliveries(&app, &admin, &endpoint_id, "?status=failed").await;
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|delivery| delivery["attempt_count"] == 8));
    let told = received(&watcher);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].json()["data"]["reason"], "failing");
}

#[tokio::test]
async fn replay_sends_a_time_range_again_and_one_delivery_on_request() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let receiver = FakeProvider::start().await;
    receiver.script_json_each("POST", HOOK, 200, |_| json!({}));
    let (endpoint_id, secret) = endpoint(&app, &admin, &receiver, &["lead.created"]).await;

    let early = create_lead(&app, &admin, "Amina").await;
    app.run_jobs().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let boundary = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let late = create_lead(&app, &admin, "Baraka").await;
    app.run_jobs().await;
    assert_eq!(received(&receiver).len(), 2);

    let replay = app
        .post(
            &format!("/api/v1/webhook-endpoints/{endpoint_id}/replay"),
            &admin,
            json!({"since": boundary, "until": Utc::now() + Duration::minutes(1), "status": "succeeded"}),
        )
        .await;
    assert_eq!(replay.status, StatusCode::ACCEPTED, "{}", replay.body);
    assert_eq!(replay.body["replayed"], 1);
    app.run_jobs().await;
    let requests = received(&receiver);
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2].json()["data"]["lead_id"], late.as_str());
    assert_eq!(
        requests[2].headers["webhook-id"],
        requests[1].headers["webhook-id"]
    );
    assert_eq!(requests[2].body, requests[1].body);
    verify(&secret, &requests[2]).unwrap();

    // One delivery, by id.
    let first = requests[0].headers["webhook-id"].clone();
    let retried = app
        .post(
            &format!("/api/v1/webhook-endpoints/{endpoint_id}/deliveries/{first}/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    assert_eq!(retried.body["status"], "pending");
    app.run_jobs().await;
    let requests = received(&receiver);
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[3].json()["data"]["lead_id"], early.as_str());
    let detail = delivery(&app, &admin, &endpoint_id, &first).await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(detail["attempt_count"], 1);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_for_the_grace_period() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let receiver = FakeProvider::start().await;
    receiver.script_json_each("POST", HOOK, 200, |_| json!({}));
    let (endpoint_id, old) = endpoint(&app, &admin, &receiver, &["lead.created"]).await;

    let rotated = app
        .post(
            &format!("/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(new.starts_with("whsec_"));

    create_lead(&app, &admin, "Amina").await;
    app.run_jobs().await;
    let during = received(&receiver).pop().unwrap();
    let signatures: Vec<&str> = during.headers["webhook-signature"].split(' ').collect();
    assert_eq!(signatures.len(), 2);
    assert!(
        signatures
            .iter()
            .all(|signature| signature.starts_with("v1,"))
    );
    verify(&old, &during).expect("the old secret still verifies");
    verify(&new, &during).expect("the new secret verifies");

    app.clock().advance(Duration::hours(25));
    create_lead(&app, &admin, "Baraka").await;
    app.run_jobs().await;
    let after = received(&receiver).pop().unwrap();
    assert_eq!(after.headers["webhook-signature"].split(' ').count(), 1);
    verify(&new, &after).unwrap();
    assert!(verify(&old, &after).is_err());
}

#[tokio::test]
async fn private_targets_are_refused_unless_an_admin_allows_them() {
    let app = TestApp::spawn_with(&[("WACRM_ALLOW_PRIVATE_TARGETS", "false")]).await;
    let admin = app.admin_token().await;
    let receiver = FakeProvider::start().await;
    receiver.script_json_each("POST", HOOK, 200, |_| json!({}));
    let url = format!("{}{HOOK}", receiver.base_url);

    for target in [
        url.as_str(),
        "http://10.0.0.3/hook",
        "http://169.254.169.254/latest",
    ] {
        let refused = app
            .post(
                "/api/v1/webhook-endpoints",
                &admin,
                json!({"url": target, "event_types": ["lead.created"]}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{target}");
        assert_eq!(refused.problem_code(), "address_not_allowed");
    }
    let allowed = app
        .post(
            "/api/v1/webhook-endpoints",
            &admin,
            json!({"url": url, "event_types": ["lead.created"], "allow_private_targets": true}),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{}", allowed.body);
    let endpoint_id = allowed.body["id"].as_str().unwrap().to_owned();
    create_lead(&app, &admin, "Amina").await;
    app.run_jobs().await;
    assert_eq!(received(&receiver).len(), 1);

    // Turning the permission off again is refused while the URL is private...
    let patched = app
        .patch(
            &format!("/api/v1/webhook-endpoints/{endpoint_id}"),
            &admin,
            json!({"allow_private_targets": false}),
        )
        .await;
    assert_eq!(patched.problem_code(), "address_not_allowed");
    // ...and a name that resolves privately at delivery time (as after a DNS
    // change) is not reached, with a reason that names no address.
    {
        use diesel::ExpressionMethods as _;
        use diesel_async::RunQueryDsl as _;
        use wacrm_persistence::schema::webhook_endpoints::dsl;
        let mut db = app.db().await;
        let local = url.replace("127.0.0.1", "localhost");
        diesel::update(dsl::webhook_endpoints)
            .set((dsl::allow_private_targets.eq(false), dsl::url.eq(local)))
            .execute(&mut db)
            .await
            .unwrap();
    }
    create_lead(&app, &admin, "Baraka").await;
    app.run_jobs().await;
    assert_eq!(received(&receiver).len(), 1);
    let pending = deliveries(&app, &admin, &endpoint_id, "?status=pending").await;
    assert_eq!(pending.len(), 1);
    let error = pending[0]["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("the endpoint's address is not allowed"),
        "{error}"
    );
    assert!(!error.contains("127.0.0.1") && !error.contains("localhost"));
}

#[tokio::test]
async fn secrets_are_shown_once_and_bad_input_is_a_problem() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let receiver = FakeProvider::start().await;
    let (endpoint_id, secret) =
        endpoint(&app, &admin, &receiver, &["lead.created", "message.status"]).await;
    assert!(secret.starts_with("whsec_"));

    let listed = app.get("/api/v1/webhook-endpoints", &admin).await;
    assert_eq!(listed.status, StatusCode::OK);
    let one = get_endpoint(&app, &admin, &endpoint_id).await;
    for body in [&listed.body, &one] {
        let text = body.to_string();
        assert!(
            !text.contains(&secret[6..]) && !text.contains("\"secret\""),
            "{text}"
        );
    }
    assert_eq!(
        one["event_types"],
        json!(["message.status", "lead.created"])
    );
    assert_eq!(one["enabled"], true);
    assert_eq!(one["allow_private_targets"], false);

    let url = format!("{}{HOOK}", receiver.base_url);
    for (body, field) in [
        (json!({"url": url, "event_types": []}), "event_types"),
        (
            json!({"url": url, "event_types": ["message.created"]}),
            "event_types[0]",
        ),
        (
            json!({"url": "ftp://example.com/x", "event_types": ["lead.created"]}),
            "url",
        ),
        (
            json!({"url": "not a url", "event_types": ["lead.created"]}),
            "url",
        ),
    ] {
        let refused = app.post("/api/v1/webhook-endpoints", &admin, body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.problem_code(), "validation_failed");
        assert_eq!(
            refused.body["errors"][0]["field"], field,
            "{}",
            refused.body
        );
    }
    let (_, agent) = app.staff_with(&["whatsapp_chat:view"]).await;
    let forbidden = app.get("/api/v1/webhook-endpoints", &agent).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.problem_code(), "permission_denied");
    let backwards = app
        .post(
            &format!("/api/v1/webhook-endpoints/{endpoint_id}/replay"),
            &admin,
            json!({"since": Utc::now(), "until": Utc::now() - Duration::hours(1)}),
        )
        .await;
    assert_eq!(backwards.problem_code(), "validation_failed");
    let unknown = uuid::Uuid::now_v7();
    let missing = app
        .get(
            &format!("/api/v1/webhook-endpoints/{unknown}/deliveries"),
            &admin,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.problem_code(), "not_found");
    let bad_filter = app
        .get(
            &format!("/api/v1/webhook-endpoints/{endpoint_id}/deliveries?status=lost"),
            &admin,
        )
        .await;
    assert_eq!(bad_filter.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_filter.problem_code(), "invalid_query");
    let grace = app
        .post(
            &format!("/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
            &admin,
            json!({"grace_period_hours": 9999}),
        )
        .await;
    assert_eq!(grace.problem_code(), "validation_failed");
    let deleted = app
        .delete(&format!("/api/v1/webhook-endpoints/{endpoint_id}"), &admin)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app
        .get(&format!("/api/v1/webhook-endpoints/{endpoint_id}"), &admin)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn events_other_modules_publish_by_catalogue_name_go_out_too() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let receiver = FakeProvider::start().await;
    receiver.script_json_each("POST", HOOK, 200, |_| json!({}));
    let (_, secret) = endpoint(
        &app,
        &admin,
        &receiver,
        &["campaign.completed", "notification.sent"],
    )
    .await;

    // As the campaign and notification modules announce their work.
    let mut db = app.db().await;
    let campaign = uuid::Uuid::now_v7();
    wacrm_persistence::events::publish_all(
        &mut db,
        &[
            json!({"type": "campaign.completed", "campaign_id": campaign, "sent": 120}),
            json!({"type": "conversation.updated", "conversation_id": campaign}),
            json!({"type": "notification.sent", "notification_id": campaign}),
        ],
    )
    .await
    .unwrap();
    app.run_jobs().await;
    let requests = received(&receiver);
    // Deliveries go out in parallel: their order of arrival is not promised.
    let mut types: Vec<String> = requests
        .iter()
        .map(|request| request.json()["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(types, ["campaign.completed", "notification.sent"]);
    let completed = of_type(&requests, "campaign.completed");
    assert_eq!(
        completed[0].json()["data"],
        json!({"campaign_id": campaign, "sent": 120})
    );
    verify(&secret, &completed[0]).unwrap();
}

#[tokio::test]
async fn finished_deliveries_are_forgotten_after_the_retention() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let receiver = FakeProvider::start().await;
    receiver.script_json_each("POST", HOOK, 200, |_| json!({}));
    let (endpoint_id, _) = endpoint(&app, &admin, &receiver, &["lead.created"]).await;
    create_lead(&app, &admin, "Amina").await;
    app.run_jobs().await;
    assert_eq!(deliveries(&app, &admin, &endpoint_id, "").await.len(), 1);

    let sweep = || async {
        let mut db = app.db().await;
        wacrm_worker::enqueue(&mut db, &wacrm_worker::jobs::SweepWebhookDeliveries)
            .await
            .unwrap();
        app.run_jobs().await;
    };
    app.clock().advance(Duration::days(29));
    sweep().await;
    assert_eq!(deliveries(&app, &admin, &endpoint_id, "").await.len(), 1);
    app.clock().advance(Duration::days(2));
    sweep().await;
    assert!(deliveries(&app, &admin, &endpoint_id, "").await.is_empty());
}
