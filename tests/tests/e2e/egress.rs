//! Where wacrm's own requests may go (issue 13, items 2 and 3): media links and
//! base URLs on loopback, private or metadata addresses are refused, and a
//! stored secret is never sent to a host it was not given for.
//!
//! The harness allows private targets (its fake providers listen on
//! 127.0.0.1); the tests of the guard itself turn that off.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::fake_provider::FakeProvider;
use crate::inbound::Inbox;

const STRICT: &[(&str, &str)] = &[("WACRM_ALLOW_PRIVATE_TARGETS", "false")];

/// A Lipachat image message as Lipachat posts it (seed 000's flat
/// payload; `image.url` as in `tests/tests/e2e/inbound/lipachat.rs`).
fn lipachat_image(message_id: &str, url: &str) -> Vec<u8> {
    json!({
        "messageId": message_id,
        "from": "254712345678",
        "to": "254110090747",
        "profileName": "Achieng",
        "type": "IMAGE",
        "image": {"caption": "the receipt", "url": url}
    })
    .to_string()
    .into_bytes()
}

async fn lipachat_inbox(app: TestApp) -> Inbox {
    Inbox::with_app(
        app,
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await
}

#[tokio::test]
async fn media_links_to_loopback_private_or_metadata_addresses_are_never_fetched() {
    let internal = FakeProvider::start().await;
    internal.script(
        "GET",
        "/secret.jpg",
        200,
        "image/jpeg",
        b"internal".to_vec(),
    );
    let port = internal.base_url.rsplit(':').next().unwrap().to_owned();
    let inbox = lipachat_inbox(TestApp::spawn_with(STRICT).await).await;
    let links = [
        format!("{}/secret.jpg", internal.base_url),
        format!("http://localhost:{port}/secret.jpg"),
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_owned(),
        "http://10.0.0.3:22/".to_owned(),
    ];
    for (index, link) in links.iter().enumerate() {
        let answer = inbox
            .app
            .post_raw(
                &inbox.webhook_path(),
                &lipachat_image(&format!("m-{index}"), link),
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    inbox.app.run_jobs().await;

    assert!(internal.requests().is_empty(), "nothing reached 127.0.0.1");
    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(messages.len(), links.len());
    for message in &messages {
        assert_eq!(message["media"]["downloaded"], false, "{message}");
        // One sentence for every failure: no address, port or connection error.
        assert_eq!(
            message["media"]["last_error"], "the media could not be downloaded",
            "{message}"
        );
    }
}

#[tokio::test]
async fn media_larger_than_whatsapp_allows_for_an_image_is_not_stored() {
    let lipachat = FakeProvider::start().await;
    // 5 MB is WhatsApp's image limit; this one is a byte over.
    lipachat.script(
        "GET",
        "/media/big.jpg",
        200,
        "image/jpeg",
        vec![0u8; 5 * 1024 * 1024 + 1],
    );
    let inbox = lipachat_inbox(TestApp::spawn().await).await;
    let link = format!("{}/media/big.jpg", lipachat.base_url);
    inbox
        .app
        .post_raw(&inbox.webhook_path(), &lipachat_image("m-big", &link), &[])
        .await;
    inbox.app.run_jobs().await;
    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(messages[0]["media"]["downloaded"], false);
    assert_eq!(
        messages[0]["media"]["last_error"],
        "the media is larger than WhatsApp allows for its type (5 MB)"
    );
}

#[tokio::test]
async fn a_base_url_on_a_private_address_is_refused() {
    let app = TestApp::spawn_with(STRICT).await;
    let admin = app.admin_token().await;
    for base_url in [
        "http://127.0.0.1:8080",
        "http://localhost:8080/api",
        "http://169.254.169.254/latest",
        "http://[::ffff:192.168.1.1]/",
        "http://100.64.0.7/",
    ] {
        let created = app
            .post(
                "/api/v1/connections",
                &admin,
                json!({"provider": "lipachat", "name": "L", "base_url": base_url, "credentials": {"api_key": "k"}}),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{base_url}"
        );
        assert_eq!(created.problem_code(), "address_not_allowed");
        assert_eq!(created.body["errors"][0]["field"], "base_url");

        let ai = app
            .call(
                reqwest::Method::PUT,
                "/api/v1/settings/ai",
                Some(&admin),
                Some(json!({"provider": "openai", "mode": "auto", "model": "gpt-4o-mini", "api_key": "sk-1", "base_url": base_url})),
            )
            .await;
        assert_eq!(ai.status, StatusCode::UNPROCESSABLE_ENTITY, "{base_url}");
        assert_eq!(ai.problem_code(), "address_not_allowed");
    }
    let created = app
        .post(
            "/api/v1/connections",
            &admin,
            json!({"provider": "lipachat", "name": "L", "credentials": {"api_key": "k"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let patched = app
        .patch(
            &format!("/api/v1/connections/{id}"),
            &admin,
            json!({"base_url": "http://10.0.0.3:22", "credentials": {"api_key": "k2"}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(patched.problem_code(), "address_not_allowed");
}

fn keys_sent_to(provider: &FakeProvider) -> Vec<String> {
    provider
        .requests()
        .iter()
        .filter_map(|request| request.headers.get("apikey").cloned())
        .collect()
}

async fn sync_templates(inbox: &Inbox) {
    let sync = inbox
        .app
        .post("/api/v1/templates/sync", &inbox.admin, json!({}))
        .await;
    assert_eq!(sync.status, StatusCode::ACCEPTED);
    inbox.app.run_jobs().await;
}

#[tokio::test]
async fn a_new_base_url_needs_the_credentials_again_and_never_gets_the_stored_ones() {
    let lipachat = FakeProvider::start().await;
    let attacker = FakeProvider::start().await;
    let inbox = lipachat_inbox(TestApp::spawn().await).await;
    let id = inbox.connection["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/connections/{id}");
    let moved = inbox
        .app
        .patch(
            &path,
            &inbox.admin,
            json!({"base_url": lipachat.base_url, "credentials": {"api_key": "lipa-key"}}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);

    // A key holder points the connection elsewhere, keeping the stored key.
    let refused = inbox
        .app
        .patch(&path, &inbox.admin, json!({"base_url": attacker.base_url}))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.problem_code(), "credentials_required");
    assert_eq!(refused.body["errors"][0]["field"], "credentials.api_key");
    let with_a_name = inbox
        .app
        .patch(
            &path,
            &inbox.admin,
            json!({"base_url": attacker.base_url, "name": "renamed", "credentials": {}}),
        )
        .await;
    assert_eq!(with_a_name.problem_code(), "credentials_required");
    let stored = inbox.app.get(&path, &inbox.admin).await;
    assert_eq!(
        stored.body["base_url"],
        Value::String(lipachat.base_url.clone())
    );
    assert_eq!(stored.body["name"], "lipachat");

    sync_templates(&inbox).await;
    assert!(
        attacker.requests().is_empty(),
        "nothing went to the new host"
    );
    assert_eq!(keys_sent_to(&lipachat), ["lipa-key"]);

    // With the credentials given again, the new host gets those, and only those.
    let moved = inbox
        .app
        .patch(
            &path,
            &inbox.admin,
            json!({"base_url": attacker.base_url, "credentials": {"api_key": "their-own-key"}}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    sync_templates(&inbox).await;
    assert_eq!(keys_sent_to(&attacker), ["their-own-key"]);

    // Back to Lipachat's own host (`null`) needs no credentials: they belong there.
    let home = inbox
        .app
        .patch(&path, &inbox.admin, json!({"base_url": null}))
        .await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    // The same URL again is no change.
    let same = inbox
        .app
        .patch(&path, &inbox.admin, json!({"base_url": null, "name": "L2"}))
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
}

#[tokio::test]
async fn a_new_ai_base_url_needs_the_api_key_again() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let model = FakeProvider::start().await;
    let attacker = FakeProvider::start().await;
    let put = |body: Value| {
        app.call(
            reqwest::Method::PUT,
            "/api/v1/settings/ai",
            Some(&admin),
            Some(body),
        )
    };
    let first = put(json!({"provider": "gemini", "mode": "auto", "model": "gemini-2.5-flash", "api_key": "goog-key", "base_url": model.base_url})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);

    let moved = put(json!({"provider": "gemini", "mode": "auto", "model": "gemini-2.5-flash", "base_url": attacker.base_url})).await;
    assert_eq!(moved.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(moved.problem_code(), "credentials_required");
    assert_eq!(moved.body["errors"][0]["field"], "api_key");
    let stored = app.get("/api/v1/settings/ai", &admin).await;
    assert_eq!(
        stored.body["base_url"],
        Value::String(model.base_url.clone())
    );

    // Unchanged URL: the stored key stays without being given again.
    let same = put(json!({"provider": "gemini", "mode": "manual", "model": "gemini-2.5-flash", "base_url": model.base_url})).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(same.body["has_api_key"], true);
    let with_key = put(json!({"provider": "gemini", "mode": "auto", "model": "gemini-2.5-flash", "api_key": "new-key", "base_url": attacker.base_url})).await;
    assert_eq!(with_key.status, StatusCode::OK, "{}", with_key.body);
}
