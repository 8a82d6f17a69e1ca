//! Staff accounts: an admin cannot lock themselves out, and a staff member
//! without `admin` sees their own profile.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Answer, TestApp};

async fn me(app: &TestApp, token: &str) -> String {
    let me = app.get("/api/v1/me", token).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    me.body["id"].as_str().unwrap().to_owned()
}

fn refused_as_self(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);
    // problem_code also asserts `application/problem+json`.
    assert_eq!(answer.problem_code(), "cannot_change_self");
}

#[tokio::test]
async fn an_admin_cannot_deactivate_delete_or_demote_their_own_account() {
    let app = TestApp::spawn().await;
    let (id, token) = app.staff_with(&["admin"]).await;
    assert_eq!(me(&app, &token).await, id);
    let path = format!("/api/v1/staff/{id}");

    refused_as_self(&app.patch(&path, &token, json!({"is_active": false})).await);
    refused_as_self(&app.delete(&path, &token).await);
    refused_as_self(
        &app.patch(&path, &token, json!({"permissions": ["leads:view"]}))
            .await,
    );
    refused_as_self(&app.patch(&path, &token, json!({"permissions": []})).await);

    // Nothing changed: the account still works and is still an admin.
    let after = app.get(&path, &token).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    assert_eq!(after.body["is_active"], true);
    assert_eq!(after.body["permissions"], json!(["admin"]));

    // Changes that keep the account usable go through.
    let renamed = app
        .patch(
            &path,
            &token,
            json!({"name": "Still me", "permissions": ["admin", "leads:view"], "is_active": true}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["name"], "Still me");

    // Another admin may do all of it.
    let other = app.admin_token().await;
    let demoted = app
        .patch(&path, &other, json!({"permissions": ["leads:view"]}))
        .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.body);
    let deactivated = app.patch(&path, &other, json!({"is_active": false})).await;
    assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.body);
    assert_eq!(
        app.delete(&path, &other).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn an_api_key_cannot_lock_out_the_admin_who_created_it() {
    let app = TestApp::spawn().await;
    let (id, token) = app.staff_with(&["admin"]).await;
    let created = app
        .post(
            "/api/v1/api-keys",
            &token,
            json!({"name": "ops", "permissions": ["admin"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let with_key = |method: Method, body: Option<serde_json::Value>| {
        let mut request = app
            .client
            .request(method, app.url(&format!("/api/v1/staff/{id}")))
            .header("x-api-key", &secret);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { TestApp::answer(request.send().await.unwrap()).await }
    };
    refused_as_self(&with_key(Method::PATCH, Some(json!({"is_active": false}))).await);
    refused_as_self(&with_key(Method::PATCH, Some(json!({"permissions": ["leads:view"]}))).await);
    refused_as_self(&with_key(Method::DELETE, None).await);
    assert_eq!(me(&app, &token).await, id);
}

#[tokio::test]
async fn a_staff_member_without_admin_sees_their_own_profile() {
    let app = TestApp::spawn().await;
    let (id, token) = app.staff_with(&["leads:view", "whatsapp_chat:view"]).await;
    let me = app.get("/api/v1/me", &token).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["id"], id.as_str());
    assert_eq!(me.body["name"], "Agent");
    assert_eq!(me.body["is_active"], true);
    let mut permissions: Vec<&str> = me.body["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    permissions.sort_unstable();
    assert_eq!(permissions, ["leads:view", "whatsapp_chat:view"]);
    assert!(me.body.get("password_hash").is_none());
    // Their own record through the admin routes stays out of reach.
    let direct = app.get(&format!("/api/v1/staff/{id}"), &token).await;
    assert_eq!(direct.status, StatusCode::FORBIDDEN);
    assert_eq!(direct.body["permission"], "admin");
}
