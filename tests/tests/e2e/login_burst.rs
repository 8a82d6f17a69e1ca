//! Logins under a burst: the throttle counts every guess before it is checked,
//! and password hashing never holds a database connection other routes need.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};
use crate::inbound::Inbox;

#[tokio::test]
async fn a_burst_of_wrong_passwords_gets_five_guesses_checked() {
    let app = TestApp::spawn().await;
    let answers = join_all(
        (0..16).map(|n| app.login(ADMIN_EMAIL, if n % 2 == 0 { "guess-a" } else { "guess-b" })),
    )
    .await;
    let checked = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, throttled), (5, 11));
    // The right password now waits too.
    assert_eq!(
        app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_successful_login_does_not_count_against_its_address() {
    let app = TestApp::spawn().await;
    for _ in 0..25 {
        assert_eq!(
            app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn an_overlong_email_is_refused_before_any_work() {
    let app = TestApp::spawn().await;
    let email = format!("{}@example.com", "a".repeat(10_000));
    let answer = app.login(&email, "guess").await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.problem_code(), "validation_failed");
}

/// Lipachat's sample inbound message (docs.lipachat.com/crm-workflow, seed 000).
#[tokio::test]
async fn webhooks_are_still_taken_during_a_login_burst() {
    let app = TestApp::spawn_with(&[("WACRM_DB_POOL_SIZE", "2")]).await;
    let inbox = Inbox::with_app(
        app,
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    let path = inbox.webhook_path();
    let emails: Vec<String> = (0..16).map(|n| format!("user{n}@example.com")).collect();
    let logins = join_all(
        emails
            .iter()
            .map(|email| inbox.app.login(email, "guess-a-password")),
    );
    let webhooks = async {
        let mut statuses = Vec::new();
        for n in 0..8 {
            let body = json!({
                "messageId": format!("c94ced08-5f40-46b7-a88d-7d4fbe113f{n:02}"),
                "from": "254712345678",
                "to": "254110090747",
                "profileName": "Achieng",
                "type": "TEXT",
                "text": "Text Content"
            });
            let started = std::time::Instant::now();
            let answer = inbox
                .app
                .post_raw(&path, body.to_string().as_bytes(), &[])
                .await;
            statuses.push((answer.status, started.elapsed()));
        }
        statuses
    };
    let (logins, webhooks) = tokio::join!(logins, webhooks);
    assert!(
        logins
            .iter()
            .all(|answer| answer.status == StatusCode::UNAUTHORIZED)
    );
    for (status, took) in webhooks {
        assert_eq!(status, StatusCode::OK);
        // Ingest waits for no password hash.
        assert!(took < std::time::Duration::from_millis(500), "{took:?}");
    }
}
