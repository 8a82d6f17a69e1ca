//! What a run's report says after the sends: the funnel follows Meta's status
//! webhooks forward only, counts the replies and the opt-outs that came after
//! the send and the failures by Meta's error code; the recipients list filters
//! by status; and the run's progress reaches the real-time stream.
//!
//! Shapes: Meta's status webhook ("Message status updates") and text message
//! from developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples;
//! the failed status's error object from the Cloud API error codes reference
//! (131026 "Message undeliverable", 131000 "Something went wrong").

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Campaigns;
use crate::outbound::{META_SECRET, PHONE_NUMBER_ID, WABA_ID};

const BODY: &str = "Hi {{1}}, use {{2}}";

/// Meta's webhook carrying `value` (statuses or messages) for our number.
fn webhook(value: Value) -> Value {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] =
        json!({"display_phone_number": "15550100999", "phone_number_id": PHONE_NUMBER_ID});
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}]})
}

fn status(wamid: &str, status: &str, to: &str, at: i64) -> Value {
    json!({"id": wamid, "status": status, "timestamp": at.to_string(), "recipient_id": to,
           "pricing": {"billable": true, "pricing_model": "PMP", "category": "marketing"}})
}

fn text(from: &str, wamid: &str, body: &str, at: i64) -> Value {
    webhook(json!({
        "contacts": [{"profile": {"name": "Customer"}, "wa_id": from}],
        "messages": [{"from": from, "id": wamid, "timestamp": at.to_string(), "type": "text", "text": {"body": body}}]
    }))
}

/// The run's recipients listed with `?status=`: their phones and reasons.
async fn listed(c: &Campaigns, run: &str, status: &str) -> Vec<(String, Option<String>)> {
    let answer = c
        .app()
        .get(
            &format!("/api/v1/campaigns/runs/{run}/recipients?status={status}"),
            c.admin(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["phone"].as_str().unwrap().to_owned(),
                row["reason"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_report_follows_statuses_forward_and_counts_replies_opt_outs_and_failures() {
    let c = Campaigns::new("MARKETING", BODY).await;
    let (asha, ben, chidi, dana, eli) = (
        "254712000001",
        "254712000002",
        "254712000003",
        "254712000004",
        "254712000005",
    );
    let group = c
        .group(&[
            ("Asha", "+254712000001", json!({"code": "A1"})),
            ("Ben", "+254712000002", json!({"code": "B2"})),
            ("Chidi", "+254712000003", json!({"code": "C3"})),
            ("Dana", "+254712000004", json!({"code": "D4"})),
            ("Eli", "+254712000005", json!({"code": "E5"})),
        ])
        .await;
    let campaign = c
        .create(&group, json!({"type": "onetime"}), json!({}))
        .await;

    // The stream, open before the start.
    let response = c
        .app()
        .client
        .get(c.app().url("/api/v1/stream"))
        .bearer_auth(c.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    c.app()
        .listening_on(wacrm_persistence::events::CHANNEL)
        .await;

    assert_eq!(c.act(&campaign, "start").await.status, StatusCode::OK);
    c.work_until_status(&campaign, "completed").await;
    let run = c.first_run(&campaign).await;

    // Asha reads it, then a late `delivered` arrives: she stays at read.
    // Ben's is delivered and he answers a minute later; Chidi's fails with
    // 131026 (undeliverable: the recipient is invalid) and Eli's with 131000;
    // Dana's stays sent, and she writes STOP.
    let at = c.app().clock().now().timestamp();
    let statuses = webhook(json!({"statuses": [
        status(&c.wamid_of(asha), "delivered", asha, at + 1),
        status(&c.wamid_of(asha), "read", asha, at + 2),
        status(&c.wamid_of(ben), "delivered", ben, at + 2),
    ]}));
    assert_eq!(
        c.inbox.post_meta(META_SECRET, &statuses).await.status,
        StatusCode::OK
    );
    c.app().run_jobs().await;
    let failed = |phone: &str, code: i64, title: &str| {
        let mut failed = status(&c.wamid_of(phone), "failed", phone, at + 3);
        failed["errors"] = json!([{"code": code, "title": title, "message": title,
                                   "error_data": {"details": title}}]);
        failed
    };
    let late = webhook(json!({"statuses": [
        status(&c.wamid_of(asha), "delivered", asha, at + 4),
        failed(chidi, 131_026, "Message undeliverable"),
        failed(eli, 131_000, "Something went wrong"),
    ]}));
    assert_eq!(
        c.inbox.post_meta(META_SECRET, &late).await.status,
        StatusCode::OK
    );
    for payload in [
        text(ben, "wamid.BEN_REPLY", "Yes please", at + 60),
        text(dana, "wamid.DANA_STOP", "STOP", at + 90),
    ] {
        assert_eq!(
            c.inbox.post_meta(META_SECRET, &payload).await.status,
            StatusCode::OK
        );
    }
    c.app().run_jobs().await;

    let report = c.report(&run).await;
    let funnel: Vec<(&str, &Value)> = [
        "audience",
        "skipped",
        "queued",
        "sent",
        "delivered",
        "read",
        "replied",
        "failed",
        "opted_out_after",
    ]
    .into_iter()
    .map(|field| (field, &report[field]))
    .collect();
    assert_eq!(
        funnel,
        [
            ("audience", &json!(5)),
            ("skipped", &json!(0)),
            ("queued", &json!(5)),
            // Chidi's and Eli's failed after they were sent.
            ("sent", &json!(3)),
            ("delivered", &json!(2)),
            ("read", &json!(1)),
            // Ben's answer and Dana's STOP both came within 72 hours.
            ("replied", &json!(2)),
            ("failed", &json!(2)),
            ("opted_out_after", &json!(1)),
        ],
        "{report}"
    );
    assert_eq!(
        report["reasons"],
        json!([
            {"status": "failed", "reason": "131000", "count": 1},
            {"status": "failed", "reason": "invalid_recipient", "count": 1},
        ])
    );

    // The list by status: Asha at read (not moved back), the failures with
    // their reasons.
    assert_eq!(listed(&c, &run, "read").await, [(asha.to_owned(), None)]);
    assert_eq!(
        listed(&c, &run, "delivered").await,
        [(ben.to_owned(), None)]
    );
    assert_eq!(
        listed(&c, &run, "failed").await,
        [
            (chidi.to_owned(), Some("invalid_recipient".to_owned())),
            (eli.to_owned(), Some("131000".to_owned())),
        ]
    );
    assert_eq!(listed(&c, &run, "sent").await, [(dana.to_owned(), None)]);

    // The run's progress reached the stream, then its completion.
    let received =
        crate::harness::read_stream_until(&mut stream, "event: campaign.completed\n").await;
    let frames = |event: &str| -> Vec<Value> {
        received
            .split("\n\n")
            .filter(|frame| frame.starts_with(&format!("event: {event}\n")))
            .map(|frame| {
                serde_json::from_str(frame.split_once("data: ").unwrap().1.trim()).unwrap()
            })
            .collect()
    };
    let progress = frames("campaign.progress");
    let queued: i64 = progress
        .iter()
        .filter(|event| event["run_id"] == json!(run))
        .map(|event| event["queued"].as_i64().unwrap_or_default())
        .sum();
    assert_eq!(queued, 5, "{progress:?}");
    let done = &frames("campaign.completed")[0];
    assert_eq!(
        (
            &done["campaign_id"],
            &done["run_id"],
            &done["audience"],
            &done["queued"]
        ),
        (&json!(campaign), &json!(run), &json!(5), &json!(5)),
        "{done}"
    );
}
