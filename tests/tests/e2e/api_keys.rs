//! API keys over their life: an expiry set at creation, `last_used_at`, and
//! keys that die with the access of the staff member who created them.

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Answer, TestApp};

/// Calls `path` with `X-Api-Key: key`.
async fn with_key(app: &TestApp, key: &str, path: &str) -> Answer {
    let request = app.client.get(app.url(path)).header("x-api-key", key);
    TestApp::answer(request.send().await.unwrap()).await
}

/// Creates a key as `token`; returns (id, secret).
async fn create_key(app: &TestApp, token: &str, extra: Value) -> (String, String) {
    let mut body = json!({"name": "ERP", "permissions": ["contacts:view"]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let created = app.post("/api/v1/api-keys", token, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    (
        created.body["id"].as_str().unwrap().to_owned(),
        created.body["secret"].as_str().unwrap().to_owned(),
    )
}

/// The key as the list shows it.
async fn listed(app: &TestApp, admin: &str, id: &str) -> Value {
    let list = app.get("/api/v1/api-keys?limit=200", admin).await;
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["id"] == id)
        .cloned()
        .expect("the key is listed")
}

#[tokio::test]
async fn an_expiring_key_works_until_its_expiry_then_answers_api_key_expired() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let in_the_past = app
        .post(
            "/api/v1/api-keys",
            &admin,
            json!({"name": "ERP", "permissions": ["contacts:view"], "expires_at": Utc::now() - Duration::minutes(1)}),
        )
        .await;
    assert_eq!(in_the_past.problem_code(), "validation_failed");
    assert_eq!(in_the_past.body["errors"][0]["field"], "expires_at");

    let expires_at = (Utc::now() + Duration::days(30)).to_rfc3339();
    let (id, secret) = create_key(&app, &admin, json!({"expires_at": expires_at})).await;
    assert_eq!(
        with_key(&app, &secret, "/api/v1/contacts").await.status,
        StatusCode::OK
    );
    let shown: DateTime<Utc> = listed(&app, &admin, &id).await["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        shown.timestamp(),
        expires_at.parse::<DateTime<Utc>>().unwrap().timestamp()
    );

    // Thirty days pass (the expiry is moved rather than waited for).
    {
        use diesel::{ExpressionMethods as _, QueryDsl as _};
        use diesel_async::RunQueryDsl as _;
        use wacrm_persistence::schema::api_keys;
        let mut db = app.db().await;
        diesel::update(api_keys::table.find(id.parse::<uuid::Uuid>().unwrap()))
            .set(api_keys::expires_at.eq(Utc::now() - Duration::seconds(1)))
            .execute(&mut db)
            .await
            .unwrap();
    }
    let expired = with_key(&app, &secret, "/api/v1/contacts").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.problem_code(), "api_key_expired");
    assert!(!expired.body.to_string().contains(&secret));

    // A key without an expiry keeps working.
    let (_, forever) = create_key(&app, &admin, json!({})).await;
    assert_eq!(
        with_key(&app, &forever, "/api/v1/contacts").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn last_used_at_is_recorded_on_use_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, secret) = create_key(&app, &admin, json!({})).await;
    assert_eq!(listed(&app, &admin, &id).await["last_used_at"], Value::Null);

    let before = Utc::now();
    assert_eq!(
        with_key(&app, &secret, "/api/v1/contacts").await.status,
        StatusCode::OK
    );
    let first = listed(&app, &admin, &id).await["last_used_at"].clone();
    let first_at: DateTime<Utc> = first.as_str().expect("recorded").parse().unwrap();
    assert!(
        first_at >= before - Duration::seconds(1),
        "{first_at} {before}"
    );

    // Used again within the minute: no write, the same time.
    assert_eq!(
        with_key(&app, &secret, "/api/v1/contacts").await.status,
        StatusCode::OK
    );
    assert_eq!(listed(&app, &admin, &id).await["last_used_at"], first);

    // Once it is more than a minute old, the next use records again.
    {
        use diesel::{ExpressionMethods as _, QueryDsl as _};
        use diesel_async::RunQueryDsl as _;
        use wacrm_persistence::schema::api_keys;
        let mut db = app.db().await;
        diesel::update(api_keys::table.find(id.parse::<uuid::Uuid>().unwrap()))
            .set(api_keys::last_used_at.eq(Utc::now() - Duration::minutes(2)))
            .execute(&mut db)
            .await
            .unwrap();
    }
    with_key(&app, &secret, "/api/v1/contacts").await;
    let again: DateTime<Utc> = listed(&app, &admin, &id).await["last_used_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(again >= first_at, "{again} {first_at}");
}

async fn set_active(app: &TestApp, admin: &str, staff: &str, active: bool) -> Answer {
    app.patch(
        &format!("/api/v1/staff/{staff}"),
        admin,
        json!({"is_active": active}),
    )
    .await
}

#[tokio::test]
async fn a_key_stops_working_when_its_creator_is_deactivated_or_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (creator, creator_token) = app.staff_with(&["admin"]).await;
    let (id, secret) = create_key(&app, &creator_token, json!({})).await;
    assert_eq!(
        listed(&app, &admin, &id).await["created_by"],
        creator.as_str()
    );
    assert_eq!(
        with_key(&app, &secret, "/api/v1/contacts").await.status,
        StatusCode::OK
    );

    assert_eq!(
        set_active(&app, &admin, &creator, false).await.status,
        StatusCode::OK
    );
    let deactivated = with_key(&app, &secret, "/api/v1/contacts").await;
    assert_eq!(deactivated.status, StatusCode::UNAUTHORIZED);
    assert_eq!(deactivated.problem_code(), "api_key_creator_inactive");

    // Reactivated, the creator's keys work again.
    assert_eq!(
        set_active(&app, &admin, &creator, true).await.status,
        StatusCode::OK
    );
    assert_eq!(
        with_key(&app, &secret, "/api/v1/contacts").await.status,
        StatusCode::OK
    );

    // Deleted, the creator's keys are revoked for good.
    assert_eq!(
        app.delete(&format!("/api/v1/staff/{creator}"), &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let deleted = with_key(&app, &secret, "/api/v1/contacts").await;
    assert_eq!(deleted.status, StatusCode::UNAUTHORIZED);
    assert_eq!(deleted.problem_code(), "invalid_api_key");
    assert!(listed(&app, &admin, &id).await["revoked_at"].is_string());

    // Another admin's key is untouched by all this.
    let (_, other) = create_key(&app, &admin, json!({})).await;
    assert_eq!(
        with_key(&app, &other, "/api/v1/contacts").await.status,
        StatusCode::OK
    );
}
