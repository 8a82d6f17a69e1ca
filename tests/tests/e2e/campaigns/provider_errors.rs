//! Meta's errors on campaign sends: 131049 (the per-user marketing limit)
//! retries the recipient once, no sooner than 24 hours later; 131026
//! (undeliverable) marks the recipient invalid.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Campaigns;
use crate::outbound::{META_SECRET, PHONE_NUMBER_ID, WABA_ID};

const BODY: &str = "Hi {{1}}, use {{2}}";

/// Meta's `statuses` webhook for a failed send (the "Status: failed"
/// example of the webhooks reference), with the error's code and title.
fn failed_status(wamid: &str, recipient: &str, code: u32, title: &str) -> Value {
    let ts = chrono::Utc::now().timestamp().to_string();
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID},
        "statuses": [{"id": wamid, "status": "failed", "timestamp": ts, "recipient_id": recipient,
            "errors": [{"code": code, "title": title, "message": title, "error_data": {"details": title}}]}]}}]}]})
}

const HEALTHY_ECOSYSTEM: &str =
    "This message was not delivered to maintain healthy ecosystem engagement.";

/// The wamid the fake Graph API gave the send to `phone`.
#[tokio::test]
async fn error_131049_retries_once_a_day_later_and_131026_marks_the_recipient_invalid() {
    let c = Campaigns::new("MARKETING", BODY).await;
    let group = c
        .group(&[
            ("Asha", "+254712000001", json!({"code": "A1"})),
            ("Ben", "+254712000002", json!({"code": "B2"})),
        ])
        .await;
    let campaign = c
        .create(&group, json!({"type": "onetime"}), json!({}))
        .await;
    assert_eq!(c.act(&campaign, "start").await.status, StatusCode::OK);
    c.work_until_status(&campaign, "completed").await;
    let run = c.first_run(&campaign).await;

    let asha = c.wamid_of("254712000001");
    let ben = c.wamid_of("254712000002");
    for report in [
        failed_status(&asha, "254712000001", 131_049, HEALTHY_ECOSYSTEM),
        failed_status(&ben, "254712000002", 131_026, "Message undeliverable"),
    ] {
        assert_eq!(
            c.inbox.post_meta(META_SECRET, &report).await.status,
            StatusCode::OK
        );
    }
    c.app().run_jobs().await;
    assert_eq!(
        c.recipients(&run).await,
        [
            ("254712000001".into(), "pending".into(), None),
            (
                "254712000002".into(),
                "failed".into(),
                Some("invalid_recipient".into())
            ),
        ]
    );
    assert_eq!(c.runs(&campaign).await[0]["status"], "running");

    // Not sooner than 24 hours.
    c.app().clock().advance(Duration::hours(23));
    c.app().run_jobs().await;
    assert_eq!(c.sends().len(), 2);
    c.app()
        .clock()
        .advance(Duration::hours(1) + Duration::minutes(1));
    c.work_until("the retry is sent", || async { c.sends().len() == 3 })
        .await;
    assert_eq!(c.sends()[2].0, "254712000001");
    c.work_until_status(&campaign, "completed").await;

    // A second 131049 stands: no third send.
    let retry = wamid_of_nth(3);
    let report = failed_status(&retry, "254712000001", 131_049, HEALTHY_ECOSYSTEM);
    assert_eq!(
        c.inbox.post_meta(META_SECRET, &report).await.status,
        StatusCode::OK
    );
    c.app().run_jobs().await;
    c.app().clock().advance(Duration::days(2));
    c.app().run_jobs().await;
    assert_eq!(c.sends().len(), 3);
    let recipients = c.recipients(&run).await;
    assert_eq!(
        recipients[0],
        (
            "254712000001".into(),
            "failed".into(),
            Some("131049".into())
        )
    );
    let report = c.report(&run).await;
    assert_eq!(report["failed"], 2, "{report}");
}

fn wamid_of_nth(n: usize) -> String {
    format!("wamid.CAMPAIGN{n}")
}

#[tokio::test]
async fn error_130429_backs_off_and_the_recipient_is_still_sent_once() {
    let c = Campaigns::new("MARKETING", BODY).await;
    // Meta's "Rate limit hit" error (Cloud API error codes reference).
    c.meta.script_json(
        "POST",
        &crate::outbound::messages_path(),
        400,
        json!({"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130_429,
                         "error_data": {"messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached."},
                         "fbtrace_id": "AbC130429"}}),
    );
    let group = c
        .group(&[("Asha", "+254712000001", json!({"code": "A1"}))])
        .await;
    let campaign = c
        .create(&group, json!({"type": "onetime"}), json!({}))
        .await;
    assert_eq!(c.act(&campaign, "start").await.status, StatusCode::OK);
    c.work_until_status(&campaign, "completed").await;

    // Refused once, retried after the backoff, accepted once.
    assert_eq!(c.sends().len(), 2);
    let run = c.first_run(&campaign).await;
    assert_eq!(
        c.recipients(&run).await,
        [("254712000001".into(), "sent".into(), None)]
    );
}

#[tokio::test]
async fn credentials_refused_by_meta_pause_the_campaign() {
    let c = Campaigns::new("MARKETING", BODY).await;
    let number = &c.inbox.number_id;
    c.app()
        .patch(
            &format!("/api/v1/numbers/{number}"),
            c.admin(),
            json!({"messages_per_second": 10}),
        )
        .await;
    // Meta's answer to an expired access token (Graph API error 190).
    c.meta.script_json(
        "POST",
        &crate::outbound::messages_path(),
        401,
        json!({"error": {"message": "Error validating access token: Session has expired.", "type": "OAuthException",
                         "code": 190, "error_subcode": 463, "fbtrace_id": "AbC190"}}),
    );
    let group = super::group_of(&c, 100).await;
    let campaign = c
        .create(&group, json!({"type": "onetime"}), json!({}))
        .await;
    assert_eq!(c.act(&campaign, "start").await.status, StatusCode::OK);
    c.work_until_status(&campaign, "paused").await;

    let paused = c.campaign(&campaign).await;
    assert_eq!(paused["pause_reason"], "connection_auth_failed", "{paused}");
    assert!(c.sends().len() < 100, "{} sent", c.sends().len());
}

#[tokio::test]
async fn a_campaign_whose_sends_mostly_fail_pauses_itself() {
    let c = Campaigns::new("MARKETING", BODY).await;
    // Every send refused: Meta's "Message undeliverable" (131026).
    c.meta.script_json_each("POST", &crate::outbound::messages_path(), 400, |_| {
        json!({"error": {"message": "(#131026) Message undeliverable", "type": "OAuthException", "code": 131_026,
                         "error_data": {"messaging_product": "whatsapp", "details": "Message Undeliverable."},
                         "fbtrace_id": "AbC131026"}})
    });
    let group = super::group_of(&c, 300).await;
    let campaign = c
        .create(&group, json!({"type": "onetime"}), json!({}))
        .await;
    assert_eq!(c.act(&campaign, "start").await.status, StatusCode::OK);
    c.work_until_status(&campaign, "paused").await;

    let paused = c.campaign(&campaign).await;
    assert_eq!(paused["pause_reason"], "failure_ratio", "{paused}");
    assert!(c.sends().len() < 300, "{} sent", c.sends().len());
    let run = c.first_run(&campaign).await;
    let report = c.report(&run).await;
    assert!(report["pending"].as_i64().unwrap() > 0, "{report}");
    assert!(
        report["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|reason| reason["reason"] == "invalid_recipient"),
        "{report}"
    );
}
