//! Media a customer sent is served so that a browser never runs it: only
//! images, video and audio inline, everything else as a download with a safe
//! name, and `nosniff` with a restrictive CSP on every response.

use reqwest::StatusCode;
use serde_json::json;

use super::Inbox;
use crate::harness::fake_provider::FakeProvider;

/// Lipachat's flat payload (docs.lipachat.com/crm-workflow, seed 000) with a
/// document under the field names its API uses (`mediaUrl`, `mimeType`,
/// `fileName`, as in `crates/providers/src/webhook/flat.rs`' tests).
#[tokio::test]
async fn a_document_is_an_attachment_with_a_sanitised_name_and_nothing_sniffs() {
    let lipachat = FakeProvider::start().await;
    let inbox = Inbox::new(
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    let id = inbox.connection["id"].as_str().unwrap();
    inbox
        .app
        .patch(
            &format!("/api/v1/connections/{id}"),
            &inbox.admin,
            json!({"base_url": lipachat.base_url}),
        )
        .await;
    lipachat.script(
        "GET",
        "/media/page.html",
        200,
        "text/html",
        b"<script>alert(document.cookie)</script>".to_vec(),
    );
    lipachat.script("GET", "/media/cat.jpg", 200, "image/jpeg", b"jpeg".to_vec());
    for (message_id, content) in [
        (
            "m-doc",
            json!({"type": "DOCUMENT", "mediaUrl": format!("{}/media/page.html", lipachat.base_url),
                   "mimeType": "text/html", "fileName": "in\u{1}voice\"\r\n;.html"}),
        ),
        (
            "m-img",
            json!({"type": "IMAGE", "image": {"url": format!("{}/media/cat.jpg", lipachat.base_url)}}),
        ),
    ] {
        let mut body = json!({"messageId": message_id, "from": "254712345678", "to": "254110090747", "profileName": "A"});
        body.as_object_mut()
            .unwrap()
            .extend(content.as_object().unwrap().clone());
        let answer = inbox
            .app
            .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    inbox.app.run_jobs().await;
    let (_, messages) = inbox.only_conversation().await;
    assert_eq!(messages.len(), 2);
    for message in &messages {
        assert_eq!(message["media"]["downloaded"], true, "{message}");
        let response = inbox
            .app
            .client
            .get(inbox.app.url(&format!(
                "/api/v1/messages/{}/media",
                message["id"].as_str().unwrap()
            )))
            .bearer_auth(&inbox.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert!(header("content-security-policy").contains("default-src 'none'"));
        let disposition = header("content-disposition");
        if message["type"] == "document" {
            assert!(disposition.starts_with("attachment"), "{disposition}");
            assert!(
                disposition.contains("filename=\"in_voice_;.html\""),
                "{disposition}"
            );
        } else {
            assert!(!disposition.starts_with("attachment"), "{disposition}");
        }
    }
}

#[tokio::test]
async fn every_response_carries_nosniff_and_a_restrictive_csp() {
    let inbox = Inbox::new(
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    for path in ["/healthz", "/api/v1/no-such-route", "/api/v1/me"] {
        let response = inbox
            .app
            .client
            .get(inbox.app.url(path))
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
    // Swagger UI still runs its own scripts.
    let ui = inbox
        .app
        .client
        .get(inbox.app.url("/swagger-ui/"))
        .send()
        .await
        .unwrap();
    assert_eq!(ui.headers()["x-content-type-options"], "nosniff");
    assert!(
        ui.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
}
