//! Login, token refresh with rotation and reuse detection, logout, and every
//! way an access token can be bad.

use chrono::Utc;
use jsonwebtoken::{EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{ADMIN_EMAIL, ADMIN_PASSWORD, JWT_SECRET, TestApp};

#[tokio::test]
async fn login_gives_a_bearer_pair_and_me_shows_the_admin() {
    let app = TestApp::spawn().await;
    let login = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    let token = login.body["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/me", token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], ADMIN_EMAIL);
    assert_eq!(me.body["permissions"], json!(["admin"]));
    assert!(me.body.get("password_hash").is_none());
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_look_the_same() {
    let app = TestApp::spawn().await;
    let wrong = app.login(ADMIN_EMAIL, "not-the-password").await;
    let unknown = app.login("nobody@example.com", "whatever-password").await;
    for answer in [wrong, unknown] {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.problem_code(), "invalid_credentials");
    }
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        assert_eq!(
            app.login(ADMIN_EMAIL, "guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Even the right password waits now: the account is locked for a while.
    let throttled = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.problem_code(), "too_many_requests");
    let retry_after: u64 = throttled.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn one_client_address_is_throttled_across_accounts() {
    let app = TestApp::spawn().await;
    for n in 0..20 {
        let answer = app.login(&format!("user{n}@example.com"), "guess").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let throttled = app.login("someone-else@example.com", "guess").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let app = TestApp::spawn().await;
    let first = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = |token: &str| {
        app.call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": token})),
        )
    };

    let second = refresh(&first).await;
    assert_eq!(second.status, StatusCode::OK);
    let second_token = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, first);
    assert_eq!(
        app.get("/api/v1/me", second.body["access_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );

    // Someone replays the first token: refused, and the whole family dies.
    let replay = refresh(&first).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.problem_code(), "refresh_token_reused");
    let after = refresh(&second_token).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.problem_code(), "invalid_refresh_token");

    // Another login is another family and still works.
    let other = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(refresh(&other).await.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let logout = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": token})),
        )
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let refresh = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": token})),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh.problem_code(), "invalid_refresh_token");
}

fn token(secret: &str, header: Header, sub: &str, exp_offset: i64) -> String {
    let now = Utc::now().timestamp();
    let claims = json!({"sub": sub, "iss": "wacrm", "aud": "wacrm-api", "iat": now, "exp": now + exp_offset});
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn missing_forged_and_expired_tokens_are_401() {
    let app = TestApp::spawn().await;
    let me = app.get("/api/v1/me", &app.admin_token().await).await;
    let admin_id = me.body["id"].as_str().unwrap();

    let missing = app.call(Method::GET, "/api/v1/leads", None, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.problem_code(), "unauthenticated");

    let cases = [
        ("garbage", "not.a.jwt".to_owned(), "invalid_token"),
        (
            "forged",
            token("another-secret", Header::default(), admin_id, 600),
            "invalid_token",
        ),
        (
            "other algorithm",
            token(
                JWT_SECRET,
                Header::new(jsonwebtoken::Algorithm::HS384),
                admin_id,
                600,
            ),
            "invalid_token",
        ),
        (
            "expired",
            token(JWT_SECRET, Header::default(), admin_id, -120),
            "token_expired",
        ),
        (
            "unknown subject",
            token(
                JWT_SECRET,
                Header::default(),
                &uuid::Uuid::now_v7().to_string(),
                600,
            ),
            "invalid_token",
        ),
    ];
    for (case, bad, code) in cases {
        let answer = app.get("/api/v1/leads", &bad).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(answer.problem_code(), code, "{case}");
    }
    // The same claims signed properly do work: the failures above are the signature's.
    let good = token(JWT_SECRET, Header::default(), admin_id, 600);
    assert_eq!(app.get("/api/v1/leads", &good).await.status, StatusCode::OK);
}

#[tokio::test]
async fn deactivated_staff_lose_access_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, token) = app.staff_with(&["leads:view"]).await;
    assert_eq!(
        app.get("/api/v1/leads", &token).await.status,
        StatusCode::OK
    );
    let patched = app
        .patch(
            &format!("/api/v1/staff/{id}"),
            &admin,
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/leads", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}
