//! Every route checks a permission; API keys carry a chosen subset.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn a_missing_permission_is_403_naming_it() {
    let app = TestApp::spawn().await;
    let (_, viewer) = app.staff_with(&["leads:view"]).await;
    assert_eq!(
        app.get("/api/v1/leads", &viewer).await.status,
        StatusCode::OK
    );

    let create = app
        .post("/api/v1/leads", &viewer, json!({"name": "Ana"}))
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert_eq!(create.problem_code(), "permission_denied");
    assert_eq!(create.body["permission"], "leads:create");

    let contacts = app.get("/api/v1/contacts", &viewer).await;
    assert_eq!(contacts.body["permission"], "contacts:view");

    // Staff and key management are for admins only.
    let staff = app.get("/api/v1/staff", &viewer).await;
    assert_eq!(staff.status, StatusCode::FORBIDDEN);
    assert_eq!(staff.body["permission"], "admin");
    let status = app
        .post("/api/v1/lead-statuses", &viewer, json!({"name": "Hot"}))
        .await;
    assert_eq!(status.body["permission"], "admin");
}

#[tokio::test]
async fn unknown_permissions_are_refused_when_granting() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let answer = app
        .post(
            "/api/v1/staff",
            &admin,
            json!({"name": "X", "email": "x@example.com", "password": "long-enough", "permissions": ["leads:fly"]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.body["errors"][0]["field"], "permissions");
}

#[tokio::test]
async fn api_keys_are_scoped_shown_once_and_revocable() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/api/v1/api-keys",
            &admin,
            json!({"name": "ERP sync", "permissions": ["contacts:view", "contacts:create"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(created.body["prefix"].as_str().unwrap()));

    let with_key = |method: Method, path: &str, body: Option<serde_json::Value>| {
        let mut request = app
            .client
            .request(method, app.url(path))
            .header("x-api-key", &secret);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { TestApp::answer(request.send().await.unwrap()).await }
    };

    let made = with_key(
        Method::POST,
        "/api/v1/contacts",
        Some(json!({"name": "Ben", "phone": "+254 712 000111"})),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert_eq!(
        with_key(Method::GET, "/api/v1/contacts", None).await.body["items"][0]["name"],
        "Ben"
    );
    let leads = with_key(Method::GET, "/api/v1/leads", None).await;
    assert_eq!(leads.status, StatusCode::FORBIDDEN);
    assert_eq!(leads.body["permission"], "leads:view");

    // The list never shows the secret again.
    let listed = app.get("/api/v1/api-keys", &admin).await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    assert!(listed.body["items"][0].get("secret").is_none());
    assert!(!listed.body.to_string().contains(&secret));

    assert_eq!(
        app.delete(&format!("/api/v1/api-keys/{id}"), &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let revoked = with_key(Method::GET, "/api/v1/contacts", None).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoked.problem_code(), "invalid_api_key");
    let listed = app.get("/api/v1/api-keys", &admin).await;
    assert!(listed.body["items"][0]["revoked_at"].is_string());
}

#[tokio::test]
async fn an_unknown_api_key_is_401() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/api/v1/contacts"))
        .header("x-api-key", "wacrm_madeup")
        .send()
        .await
        .unwrap();
    let answer = TestApp::answer(response).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.problem_code(), "invalid_api_key");
}
