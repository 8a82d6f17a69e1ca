//! Inbound media are downloaded from where each provider serves them, with that
//! provider's own credentials (Meta's two-step Graph download is tested in
//! `meta.rs`). Each test asserts the exact path and auth header the fake saw.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Inbox, hmac_hex};
use crate::harness::fake_provider::FakeProvider;

const JPEG: [u8; 4] = [0xFF, 0xD8, 0xFF, 0xE0];

/// The one message's media, as the API serves it once fetched.
async fn served_media(inbox: &Inbox) -> (Value, Vec<u8>) {
    let (_, messages) = inbox.only_conversation().await;
    let message = messages[0].clone();
    let media = inbox
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
    assert_eq!(media.status(), StatusCode::OK, "{message}");
    (message, media.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn tata_media_come_from_tatas_download_endpoint_with_its_key() {
    let tata = FakeProvider::start().await;
    let inbox = Inbox::new(
        "tata",
        json!({"api_key": "tata-key"}),
        json!({"phone": "+919355421616"}),
    )
    .await;
    inbox.point_at(&tata.base_url).await;
    // What public Omni integrations read from the download endpoint: `url` and
    // `mime_type` (an Odoo module, haboo_tata_whatsapp_integration, reads both).
    let file_url = format!("{}/files/wa/1046.jpg", tata.base_url);
    tata.script_json(
        "GET",
        "/whatsapp-cloud/media/download/1046205426546291",
        200,
        json!({"url": file_url, "mime_type": "image/jpeg"}),
    );
    tata.script(
        "GET",
        "/files/wa/1046.jpg",
        200,
        "image/jpeg",
        JPEG.to_vec(),
    );
    // Seed 004's envelope with Meta's image object (id, mime_type, sha256).
    let body = json!({
        "contacts": [{"profile": {"name": "User Name"}, "wa_id": "919999999999"}],
        "messages": {"from": "919999999999", "id": "wamid.TIMG", "timestamp": chrono::Utc::now().timestamp().to_string(),
                     "type": "image", "image": {"id": "1046205426546291", "mime_type": "image/jpeg",
                     "sha256": "HgcOo0ZFRbRNLpUmkqlCWwLKrGmTk0sPHyWkeyzNh4s="}},
        "businessPhoneNumber": "+919355421616",
        "id": "268e8b65-59a2-45df-9006-bd4b2aedbfdc"
    });
    inbox
        .app
        .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
        .await;
    inbox.app.run_jobs().await;

    let (message, bytes) = served_media(&inbox).await;
    assert_eq!(bytes, JPEG);
    assert_eq!(message["media"]["mime_type"], "image/jpeg");
    let [info, file] = tata.requests().try_into().unwrap();
    assert_eq!(
        (info.method.as_str(), info.path.as_str()),
        ("GET", "/whatsapp-cloud/media/download/1046205426546291")
    );
    assert_eq!(
        info.headers.get("authorization").map(String::as_str),
        Some("tata-key")
    );
    assert_eq!(file.path, "/files/wa/1046.jpg");
    // Nothing on Meta's Graph path.
    assert!(!tata.requests().iter().any(|r| r.path.starts_with("/v25.0")));
}

#[tokio::test]
async fn lipachat_media_links_on_its_host_carry_its_api_key() {
    let lipachat = FakeProvider::start().await;
    let inbox = Inbox::new(
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    inbox
        .point_at(&format!("{}/api/v1", lipachat.base_url))
        .await;
    lipachat.script("GET", "/media/8f1c.jpg", 200, "image/jpeg", JPEG.to_vec());
    // Lipachat's documented inbound image: `image.url` (seed 000, CRM workflow).
    let body = json!({"messageId": "c94ced08-5f40-46b7-a88d-7d4fbe113fe9", "from": "254712345678",
        "to": "254110090747", "profileName": "Wanjiru", "type": "IMAGE",
        "image": {"caption": null, "url": format!("{}/media/8f1c.jpg", lipachat.base_url)}});
    inbox
        .app
        .post_raw(&inbox.webhook_path(), body.to_string().as_bytes(), &[])
        .await;
    inbox.app.run_jobs().await;

    let (_, bytes) = served_media(&inbox).await;
    assert_eq!(bytes, JPEG);
    let [file] = lipachat.requests().try_into().unwrap();
    assert_eq!(
        (file.method.as_str(), file.path.as_str()),
        ("GET", "/media/8f1c.jpg")
    );
    assert_eq!(
        file.headers.get("apikey").map(String::as_str),
        Some("lipa-key")
    );
}

#[tokio::test]
async fn whats91_media_links_on_its_host_carry_its_bearer_key() {
    let whats91 = FakeProvider::start().await;
    let inbox = Inbox::new(
        "whats91",
        json!({"api_key": "w91_live_key", "signing_secret": "s"}),
        json!({"phone": "+91 62686 62275", "is_default": true}),
    )
    .await;
    inbox
        .point_at(&format!("{}/api/v2", whats91.base_url))
        .await;
    whats91.script("GET", "/f/abc.jpg", 200, "image/jpeg", JPEG.to_vec());
    // Whats91 Webhooks v2 envelope (developers.whats91.com/webhooks/samples) with
    // the image as Meta nests it, by link.
    let body = json!({"event": "message.inbound.image", "senderId": "916268662275", "webhookUid": "wh_abc",
        "data": {"from": "919900011122", "messageId": "wamid.IMG", "timestamp": chrono::Utc::now().to_rfc3339(),
                 "image": {"url": format!("{}/f/abc.jpg", whats91.base_url), "mime_type": "image/jpeg", "caption": "Tile sample"}}})
    .to_string();
    inbox
        .app
        .post_raw(
            &inbox.webhook_path(),
            body.as_bytes(),
            &[("x-whats91-signature", &hmac_hex("s", body.as_bytes()))],
        )
        .await;
    inbox.app.run_jobs().await;

    let (message, bytes) = served_media(&inbox).await;
    assert_eq!(bytes, JPEG);
    assert_eq!(message["body"], "Tile sample");
    let [file] = whats91.requests().try_into().unwrap();
    assert_eq!(
        (file.method.as_str(), file.path.as_str()),
        ("GET", "/f/abc.jpg")
    );
    assert_eq!(
        file.headers.get("authorization").map(String::as_str),
        Some("Bearer w91_live_key")
    );
}
