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

/// Logs in; returns (access token, refresh token).
async fn sign_in(app: &TestApp) -> (String, String) {
    let login = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let field = |name: &str| login.body[name].as_str().unwrap().to_owned();
    (field("access_token"), field("refresh_token"))
}

async fn post_refresh(app: &TestApp, path: &str, refresh_token: &str) -> crate::harness::Answer {
    app.call(
        Method::POST,
        path,
        None,
        Some(json!({"refresh_token": refresh_token})),
    )
    .await
}

#[tokio::test]
async fn logout_ends_the_access_tokens_of_that_session_only() {
    let app = TestApp::spawn().await;
    let (access, refresh) = sign_in(&app).await;
    let (other_access, _) = sign_in(&app).await;
    assert_eq!(app.get("/api/v1/me", &access).await.status, StatusCode::OK);

    let logout = post_refresh(&app, "/api/v1/auth/logout", &refresh).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);

    // Not at its expiry, 15 minutes later: now.
    let ended = app.get("/api/v1/me", &access).await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED);
    assert_eq!(ended.problem_code(), "session_revoked");
    // Another login of the same account is another session.
    assert_eq!(
        app.get("/api/v1/me", &other_access).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_reused_refresh_token_ends_the_access_tokens_of_that_login() {
    let app = TestApp::spawn().await;
    let (first_access, first_refresh) = sign_in(&app).await;
    let (other_access, _) = sign_in(&app).await;
    let rotated = post_refresh(&app, "/api/v1/auth/refresh", &first_refresh).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let second_access = rotated.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        issued_claims(&second_access)["sid"],
        issued_claims(&first_access)["sid"],
        "a refresh stays in its session"
    );
    assert_eq!(
        app.get("/api/v1/me", &second_access).await.status,
        StatusCode::OK
    );

    // Someone replays the used refresh token (a thief, or the victim after one).
    let reused = post_refresh(&app, "/api/v1/auth/refresh", &first_refresh).await;
    assert_eq!(reused.problem_code(), "refresh_token_reused");

    for (which, token) in [("first", &first_access), ("rotated", &second_access)] {
        let ended = app.get("/api/v1/me", token).await;
        assert_eq!(ended.status, StatusCode::UNAUTHORIZED, "{which}");
        assert_eq!(ended.problem_code(), "session_revoked", "{which}");
    }
    assert_eq!(
        app.get("/api/v1/me", &other_access).await.status,
        StatusCode::OK
    );
}

/// The claims of an access token as wacrm issues them, with `changes` applied.
fn claims(sub: &str, sid: &str, exp_offset: i64, changes: serde_json::Value) -> serde_json::Value {
    let now = Utc::now().timestamp();
    let mut claims = json!({"sub": sub, "sid": sid, "iss": "wacrm", "aud": "wacrm-api", "iat": now, "exp": now + exp_offset});
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

fn sign(secret: &str, header: Header, claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// The claims of a token wacrm issued, read without checking anything.
fn issued_claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn missing_forged_and_expired_tokens_are_401() {
    let app = TestApp::spawn().await;
    let issued = issued_claims(&app.admin_token().await);
    let (admin_id, session) = (
        issued["sub"].as_str().unwrap(),
        issued["sid"].as_str().unwrap(),
    );
    let token = |secret: &str, header: Header, exp_offset: i64, changes: serde_json::Value| {
        sign(
            secret,
            header,
            &claims(admin_id, session, exp_offset, changes),
        )
    };

    let missing = app.call(Method::GET, "/api/v1/leads", None, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.problem_code(), "unauthenticated");

    let cases = [
        ("garbage", "not.a.jwt".to_owned(), "invalid_token"),
        (
            "forged",
            token("another-secret", Header::default(), 600, json!({})),
            "invalid_token",
        ),
        (
            "other algorithm",
            token(
                JWT_SECRET,
                Header::new(jsonwebtoken::Algorithm::HS384),
                600,
                json!({}),
            ),
            "invalid_token",
        ),
        (
            "expired",
            token(JWT_SECRET, Header::default(), -120, json!({})),
            "token_expired",
        ),
        (
            "unknown subject",
            token(
                JWT_SECRET,
                Header::default(),
                600,
                json!({"sub": uuid::Uuid::now_v7().to_string()}),
            ),
            "invalid_token",
        ),
        (
            "another issuer",
            token(
                JWT_SECRET,
                Header::default(),
                600,
                json!({"iss": "someone-else"}),
            ),
            "invalid_token",
        ),
        (
            "no issuer",
            token(JWT_SECRET, Header::default(), 600, json!({"iss": null})),
            "invalid_token",
        ),
        (
            "another audience",
            token(
                JWT_SECRET,
                Header::default(),
                600,
                json!({"aud": "another-api"}),
            ),
            "invalid_token",
        ),
        (
            "no audience",
            token(JWT_SECRET, Header::default(), 600, json!({"aud": null})),
            "invalid_token",
        ),
        (
            "no session",
            token(JWT_SECRET, Header::default(), 600, json!({"sid": null})),
            "invalid_token",
        ),
    ];
    for (case, bad, code) in cases {
        let answer = app.get("/api/v1/leads", &bad).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(answer.problem_code(), code, "{case}");
    }
    // The same claims signed properly do work: each failure above is the one
    // thing that case changed.
    let good = token(JWT_SECRET, Header::default(), 600, json!({}));
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
