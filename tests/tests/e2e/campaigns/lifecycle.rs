//! A campaign's life through the API: what `start` refuses and why, editing
//! while scheduled, pause / resume / cancel, and the conditions that pause a
//! campaign by themselves.

use chrono::{Duration, SubsecRound as _};
use reqwest::StatusCode;
use serde_json::json;

use super::{Campaigns, TEMPLATE};

const BODY: &str = "Hi {{1}}, use {{2}}";

fn error_fields(answer: &crate::harness::Answer) -> Vec<String> {
    answer.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|error| error["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn start_refuses_a_campaign_that_cannot_be_sent_and_says_why() {
    let c = Campaigns::new("MARKETING", BODY).await;
    let group = c
        .group(&[("Asha", "+254712000001", json!({"code": "A1"}))])
        .await;

    // One parameter for a body that needs two.
    let short = c
        .create(
            &group,
            json!({"type": "onetime"}),
            json!({"parameters": {"body": [{"value": "{{name}}"}]}}),
        )
        .await;
    let refused = c.act(&short, "start").await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.problem_code(), "campaign_not_startable");
    assert_eq!(error_fields(&refused), ["parameters"]);

    // A template the connection does not have, and a send time that passed.
    let unknown = c
        .create(
            &group,
            json!({"type": "onetime", "send_at": "2020-01-01T00:00:00Z"}),
            json!({"template": {"name": "no_such_template", "language": "en_US"}}),
        )
        .await;
    let refused = c.act(&unknown, "start").await;
    assert_eq!(refused.problem_code(), "campaign_not_startable");
    assert_eq!(error_fields(&refused), ["template", "schedule"]);
    assert_eq!(c.campaign(&unknown).await["status"], "draft");

    // Bad input never gets stored.
    let bad = c
        .app()
        .post(
            "/api/v1/campaigns",
            c.admin(),
            json!({"name": "x", "audience": {"whatsapp_groups": [group]}, "number_id": c.inbox.number_id,
                   "template": {"name": TEMPLATE, "language": "en_US"},
                   "parameters": {"body": [{"value": "{{name"}]},
                   "schedule": {"type": "recurring", "start_at": "2030-01-01T00:00:00Z", "every_days": 0},
                   "quiet_hours": {"start": "21:00", "end": "08:00", "time_zone": "Mars/Base"}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    let mut fields = error_fields(&bad);
    fields.sort();
    assert_eq!(
        fields,
        [
            "parameters.body[0]",
            "quiet_hours.time_zone",
            "schedule.every_days"
        ]
    );
    let unknown_number = c
        .app()
        .post(
            "/api/v1/campaigns",
            c.admin(),
            json!({"name": "x", "audience": {"whatsapp_groups": [group]}, "number_id": uuid::Uuid::now_v7(),
                   "template": {"name": TEMPLATE, "language": "en_US"}, "schedule": {"type": "onetime"}}),
        )
        .await;
    assert_eq!(unknown_number.problem_code(), "invalid_reference");
}

#[tokio::test]
async fn a_scheduled_campaign_is_edited_paused_resumed_and_cancelled() {
    let c = Campaigns::new("MARKETING", BODY).await;
    let group = c
        .group(&[("Asha", "+254712000001", json!({"code": "A1"}))])
        .await;
    let tomorrow = (c.app().clock().now() + Duration::days(1)).trunc_subsecs(0);
    let campaign = c
        .create(
            &group,
            json!({"type": "onetime", "send_at": tomorrow}),
            json!({}),
        )
        .await;
    assert_eq!(
        c.act(&campaign, "start").await.body["next_run_at"],
        json!(tomorrow)
    );
    assert_eq!(
        c.act(&campaign, "start").await.problem_code(),
        "campaign_status_conflict"
    );

    // Moved a day later while scheduled: the run moves with it.
    let later = tomorrow + Duration::days(1);
    let edited = c
        .app()
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/campaigns/{campaign}"),
            Some(c.admin()),
            Some(json!({"name": "Moved", "audience": {"whatsapp_groups": [group]}, "number_id": c.inbox.number_id,
                        "template": {"name": TEMPLATE, "language": "en_US"},
                        "parameters": {"body": [{"value": "{{name}}"}, {"value": "{{custom_fields.code}}"}]},
                        "schedule": {"type": "onetime", "send_at": later}})),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["next_run_at"], json!(later));
    let runs = c.runs(&campaign).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["scheduled_at"], json!(later));

    // Paused, the time passes and nothing is sent; resumed, it goes.
    assert_eq!(c.act(&campaign, "pause").await.body["status"], "paused");
    c.app().clock().advance_to(later + Duration::seconds(1));
    c.app().run_jobs().await;
    assert!(c.sends().is_empty());
    assert_eq!(c.runs(&campaign).await[0]["status"], "scheduled");
    let resumed = c.act(&campaign, "resume").await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    c.work_until_status(&campaign, "completed").await;
    assert_eq!(c.sends().len(), 1);

    // A finished campaign cannot be edited or cancelled; it can be deleted.
    assert_eq!(
        c.act(&campaign, "cancel").await.problem_code(),
        "campaign_status_conflict"
    );
    let deleted = c
        .app()
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/campaigns/{campaign}"),
            Some(c.admin()),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_cancelled_campaign_sends_nothing_more() {
    let c = Campaigns::new("MARKETING", BODY).await;
    let group = c
        .group(&[
            ("Asha", "+254712000001", json!({"code": "A1"})),
            ("Ben", "+254712000002", json!({"code": "B2"})),
        ])
        .await;
    let tomorrow = (c.app().clock().now() + Duration::days(1)).trunc_subsecs(0);
    let campaign = c
        .create(
            &group,
            json!({"type": "onetime", "send_at": tomorrow}),
            json!({}),
        )
        .await;
    c.act(&campaign, "start").await;
    let cancelled = c.act(&campaign, "cancel").await;
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["next_run_at"], json!(null));
    c.app().clock().advance_to(tomorrow + Duration::seconds(1));
    c.app().run_jobs().await;
    assert!(c.sends().is_empty());
    assert_eq!(c.runs(&campaign).await[0]["status"], "cancelled");
}

#[tokio::test]
async fn a_template_paused_by_meta_pauses_the_campaign_until_it_is_approved_again() {
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
    // Meta pauses the template after the start (its quality dropped).
    c.sync_template("PAUSED", "MARKETING", BODY).await;

    c.work_until_status(&campaign, "paused").await;
    let paused = c.campaign(&campaign).await;
    assert_eq!(paused["pause_reason"], "template_not_approved");
    assert!(c.sends().is_empty());
    let runs = c.runs(&campaign).await;
    assert_eq!(runs[0]["status"], "paused");
    assert_eq!(runs[0]["pause_reason"], "template_not_approved");

    c.sync_template("APPROVED", "MARKETING", BODY).await;
    assert_eq!(c.act(&campaign, "resume").await.body["status"], "running");
    c.work_until_status(&campaign, "completed").await;
    assert_eq!(c.sends().len(), 2);
}

#[tokio::test]
async fn preview_renders_each_recipient_and_test_sends_to_a_staff_phone() {
    let c = Campaigns::new("MARKETING", BODY).await;
    let group = c
        .group(&[
            ("Asha", "+254712000001", json!({"code": "A1"})),
            ("Chidi", "+254712000003", json!({})),
        ])
        .await;
    let campaign = c
        .create(&group, json!({"type": "onetime"}), json!({}))
        .await;

    let preview = c
        .app()
        .post(
            &format!("/api/v1/campaigns/{campaign}/preview"),
            c.admin(),
            json!({"limit": 5}),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let recipients = preview.body["recipients"].as_array().unwrap();
    assert_eq!(recipients.len(), 2);
    assert_eq!(recipients[0]["phone"], "254712000001");
    assert_eq!(recipients[0]["outcome"], "send");
    assert_eq!(recipients[0]["body"], "Hi Asha, use A1");
    assert_eq!(recipients[1]["outcome"], "skip");
    assert_eq!(
        recipients[1]["reason"],
        "missing_variable: custom_fields.code"
    );
    let too_many = c
        .app()
        .post(
            &format!("/api/v1/campaigns/{campaign}/preview"),
            c.admin(),
            json!({"limit": 50}),
        )
        .await;
    assert_eq!(too_many.problem_code(), "validation_failed");

    let test = c
        .app()
        .post(
            &format!("/api/v1/campaigns/{campaign}/test"),
            c.admin(),
            json!({"to_phone": "+254712000009"}),
        )
        .await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    c.app().run_jobs().await;
    assert_eq!(
        c.sends(),
        [(
            "254712000009".to_owned(),
            vec!["Asha".to_owned(), "A1".to_owned()]
        )]
    );
    // Nothing else moved: the campaign is still a draft.
    assert_eq!(c.campaign(&campaign).await["status"], "draft");
}
