//! Bad input gets the right status and a problem body with a stable code.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::TestApp;

async fn raw_post(
    app: &TestApp,
    token: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> crate::harness::Answer {
    let response = app
        .client
        .post(app.url("/api/v1/leads"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    TestApp::answer(response).await
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let answer = raw_post(&app, &token, "application/json", "{\"name\": ").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.problem_code(), "malformed_json");
    assert_eq!(answer.body["status"], 400);
    assert!(answer.body["request_id"].is_string());
}

#[tokio::test]
async fn wrong_types_and_unknown_fields_are_400() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let wrong_type = app.post("/api/v1/leads", &token, json!({"name": 42})).await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.problem_code(), "invalid_body");
    let typo = app
        .post(
            "/api/v1/leads",
            &token,
            json!({"name": "Ana", "emial": "a@b.co"}),
        )
        .await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);
    assert!(typo.body["detail"].as_str().unwrap().contains("emial"));
    let bad_query = app.get("/api/v1/leads?limit=lots", &token).await;
    assert_eq!(bad_query.problem_code(), "invalid_query");
    let bad_cursor = app.get("/api/v1/leads?cursor=abc", &token).await;
    assert_eq!(bad_cursor.problem_code(), "invalid_cursor");
}

#[tokio::test]
async fn unknown_ids_are_404_and_bad_ids_400() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let id = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v1/leads/{id}"),
        format!("/api/v1/contacts/{id}"),
        format!("/api/v1/staff/{id}"),
    ] {
        let answer = app.get(&path, &token).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.problem_code(), "not_found");
    }
    assert_eq!(
        app.patch(&format!("/api/v1/leads/{id}"), &token, json!({"name": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/api/v1/contacts/{id}"), &token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let bad = app.get("/api/v1/leads/not-a-uuid", &token).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.problem_code(), "invalid_path");
}

#[tokio::test]
async fn oversized_bodies_are_413_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let huge = json!({"name": "x".repeat(1024 * 1024 + 10)}).to_string();
    let answer = raw_post(&app, &token, "application/json", huge).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.problem_code(), "payload_too_large");
    assert_eq!(
        app.get("/api/v1/leads", &token).await.body["items"],
        json!([])
    );
}

#[tokio::test]
async fn a_non_json_content_type_is_415() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let answer = raw_post(&app, &token, "text/plain", "{\"name\": \"Ana\"}").await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer.problem_code(), "unsupported_media_type");
}

#[tokio::test]
async fn invalid_fields_are_all_listed_in_one_422() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let answer = app
        .post(
            "/api/v1/leads",
            &token,
            json!({"name": " ", "email": "nope", "phone": "call me"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.problem_code(), "validation_failed");
    let mut fields: Vec<&str> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["email", "name", "phone"]);
}

#[tokio::test]
async fn a_nul_character_is_refused_with_422_and_nothing_is_stored() {
    // Schemathesis found it: PostgreSQL's `text` cannot hold U+0000, so any string
    // field carrying one made the first INSERT fail and the API answer 500.
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let in_body = raw_post(
        &app,
        &token,
        "application/json",
        r#"{"name": "Ana\u0000Lopez"}"#,
    )
    .await;
    assert_eq!(in_body.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(in_body.problem_code(), "invalid_character");
    let in_query = app.get("/api/v1/leads?q=Ana%00", &token).await;
    assert_eq!(in_query.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(in_query.problem_code(), "invalid_character");
    // An escaped backslash followed by "u0000" is ordinary text.
    let literal = raw_post(
        &app,
        &token,
        "application/json",
        r#"{"name": "C:\\u0000 folder"}"#,
    )
    .await;
    assert_eq!(literal.status, StatusCode::CREATED, "{}", literal.body);
    assert_eq!(literal.body["name"], "C:\\u0000 folder");
    let leads = app.get("/api/v1/leads", &token).await;
    assert_eq!(leads.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_credential_a_request_carries_must_be_valid() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/api/v1/api-keys",
            &admin,
            json!({"name": "ERP", "permissions": ["leads:view"]}),
        )
        .await;
    let key = created.body["secret"].as_str().unwrap().to_owned();
    let call = |authorization: Option<&str>| {
        let mut request = app
            .client
            .get(app.url("/api/v1/leads"))
            .header("x-api-key", &key);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        async move { TestApp::answer(request.send().await.unwrap()).await }
    };
    assert_eq!(call(None).await.status, StatusCode::OK);
    assert_eq!(
        call(Some(&format!("Bearer {admin}"))).await.status,
        StatusCode::OK
    );
    for invalid in ["Bearer not-a-token", "Basic YWRtaW46YWRtaW4="] {
        let answer = call(Some(invalid)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{invalid}");
        assert_eq!(answer.problem_code(), "invalid_token");
    }
    // A well-signed token whose session has ended (logout) is no more valid
    // beside a key than alone.
    let login = app
        .login(crate::harness::ADMIN_EMAIL, crate::harness::ADMIN_PASSWORD)
        .await;
    let ended = login.body["access_token"].as_str().unwrap().to_owned();
    let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
    let logout = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let answer = call(Some(&format!("Bearer {ended}"))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.problem_code(), "session_revoked");
}

#[tokio::test]
async fn a_served_path_asked_with_another_method_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let answer = TestApp::answer(
        app.client
            .put(app.url("/api/v1/leads"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.problem_code(), "method_not_allowed");
    assert_eq!(answer.headers["allow"], "GET, POST");
    let with_id = TestApp::answer(
        app.client
            .post(app.url("/api/v1/leads/0190f0e4-0000-7000-8000-000000000000"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(with_id.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(with_id.headers["allow"], "GET, DELETE, PATCH");
    let nowhere = app.get("/api/v1/no-such-thing", &token).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_400_and_a_literal_path_keeps_its_methods() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let lead = app
        .post("/api/v1/leads", &token, json!({"name": "Ana"}))
        .await;
    let id = lead.body["id"].as_str().unwrap();
    // serde would read `[null, null]` as the struct's fields in order.
    let array = app
        .patch(&format!("/api/v1/leads/{id}"), &token, json!([null, null]))
        .await;
    assert_eq!(array.status, StatusCode::BAD_REQUEST);
    assert_eq!(array.problem_code(), "invalid_body");
    let unchanged = app.get(&format!("/api/v1/leads/{id}"), &token).await;
    assert_eq!(unchanged.body["name"], "Ana");
    // `/bots/test` also fits `/bots/{id}`, which answers PATCH; the literal does not.
    let patched = app.patch("/api/v1/bots/test", &token, json!({})).await;
    assert_eq!(patched.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(patched.headers["allow"], "POST");
}
