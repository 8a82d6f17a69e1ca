//! What a campaign sends, to whom and when: per-recipient parameters, the
//! recipients it skips and why, quiet hours in each recipient's zone, a
//! recurring campaign's runs, and the number's daily budget.

use chrono::{Duration, SubsecRound as _, Timelike};
use reqwest::StatusCode;
use serde_json::json;

use super::{Campaigns, TEMPLATE, template_of};
use crate::audience_fixtures::{block, set_consent};

const BODY: &str = "Hi {{1}}, use {{2}}";

fn sorted(mut sends: Vec<(String, Vec<String>)>) -> Vec<(String, Vec<String>)> {
    sends.sort();
    sends
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[tokio::test]
async fn a_onetime_campaign_sends_each_recipient_its_own_parameters_and_skips_the_rest_with_reasons()
 {
    let c = Campaigns::new("MARKETING", BODY).await;
    set_consent(c.app(), "254712000004", "opted_out").await;
    block(c.app(), "254712000005").await;
    let group = c
        .group(&[
            ("Asha", "+254712000001", json!({"code": "A1"})),
            ("", "+254712000002", json!({"code": "B2"})),
            ("Chidi", "+254712000003", json!({})),
            ("Dana", "+254712000004", json!({"code": "D4"})),
            ("Eli", "+254712000005", json!({"code": "E5"})),
        ])
        .await;
    let campaign = c
        .create(&group, json!({"type": "onetime"}), json!({}))
        .await;

    let started = c.act(&campaign, "start").await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert_eq!(started.body["status"], "scheduled");
    c.work_until_status(&campaign, "completed").await;

    // Each recipient got its own values; an empty name took the fallback.
    assert_eq!(
        sorted(c.sends()),
        [
            ("254712000001".to_owned(), strings(&["Asha", "A1"])),
            ("254712000002".to_owned(), strings(&["there", "B2"])),
        ]
    );
    let runs = c.runs(&campaign).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "completed");
    let run = runs[0]["id"].as_str().unwrap();
    let skipped = |reason: &str| Some(reason.to_owned());
    assert_eq!(
        c.recipients(run).await,
        [
            ("254712000001".into(), "sent".into(), None),
            ("254712000002".into(), "sent".into(), None),
            (
                "254712000003".into(),
                "skipped".into(),
                skipped("missing_variable")
            ),
            (
                "254712000004".into(),
                "skipped".into(),
                skipped("opted_out")
            ),
            ("254712000005".into(), "skipped".into(), skipped("blocked")),
        ]
    );
    let report = c.report(run).await;
    assert_eq!(
        (
            &report["audience"],
            &report["skipped"],
            &report["queued"],
            &report["sent"],
            &report["failed"]
        ),
        (&json!(5), &json!(3), &json!(2), &json!(2), &json!(0)),
        "{report}"
    );
    assert_eq!(
        report["reasons"],
        json!([
            {"status": "skipped", "reason": "blocked", "count": 1},
            {"status": "skipped", "reason": "missing_variable", "count": 1},
            {"status": "skipped", "reason": "opted_out", "count": 1},
        ])
    );

    // The recipients as CSV: a header and a row each.
    let csv = c
        .app()
        .client
        .get(
            c.app()
                .url(&format!("/api/v1/campaigns/runs/{run}/recipients/export")),
        )
        .bearer_auth(c.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[0].starts_with("phone,name,rel_type"), "{text}");
    assert!(
        lines.iter().any(
            |line| line.starts_with("254712000003,Chidi,whatsapp_contact")
                && line.contains("skipped,missing_variable")
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_utility_template_reaches_an_opted_out_customer() {
    let c = Campaigns::new("UTILITY", BODY).await;
    set_consent(c.app(), "254712000004", "opted_out").await;
    let group = c
        .group(&[("Dana", "+254712000004", json!({"code": "D4"}))])
        .await;
    let campaign = c
        .create(&group, json!({"type": "onetime"}), json!({}))
        .await;
    assert_eq!(c.act(&campaign, "start").await.status, StatusCode::OK);
    c.work_until_status(&campaign, "completed").await;
    assert_eq!(
        c.sends(),
        [("254712000004".to_owned(), strings(&["Dana", "D4"]))]
    );
}

/// A media header by each recipient's own link, or by one media uploaded to
/// Meta beforehand (Cloud API "Template messages" reference: a header `image`
/// parameter takes `link` or `id`; the IMAGE header as Meta's template list
/// gives it, with its `header_handle` example).
#[tokio::test]
async fn a_header_image_goes_by_each_recipients_link_or_by_one_uploaded_id() {
    let c = Campaigns::new("MARKETING", BODY).await;
    c.sync_listed(template_of(
        TEMPLATE,
        "APPROVED",
        "MARKETING",
        json!([
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1hZ2UvanBlZw==:ARa5"]}},
            {"type": "BODY", "text": BODY}
        ]),
    ))
    .await;
    let group = c
        .group(&[(
            "Asha",
            "+254712000001",
            json!({"code": "A1", "card": "https://cdn.example/cards/asha.png"}),
        )])
        .await;
    let body = json!([{"value": "{{name}}"}, {"value": "{{custom_fields.code}}"}]);
    let with_header =
        |header: serde_json::Value| json!({"parameters": {"header": header, "body": body.clone()}});
    for header in [
        json!({"type": "image", "link": {"value": "{{custom_fields.card}}"}}),
        json!({"type": "image", "media_id": {"value": "1013859600285441"}}),
    ] {
        let campaign = c
            .create(&group, json!({"type": "onetime"}), with_header(header))
            .await;
        assert_eq!(c.act(&campaign, "start").await.status, StatusCode::OK);
        c.work_until_status(&campaign, "completed").await;
    }
    let headers: Vec<serde_json::Value> = c
        .meta
        .requests_to("POST", &crate::outbound::messages_path())
        .iter()
        .map(|request| request.json()["template"]["components"][0].clone())
        .collect();
    assert_eq!(
        headers,
        [
            json!({"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example/cards/asha.png"}}]}),
            json!({"type": "header", "parameters": [{"type": "image", "image": {"id": "1013859600285441"}}]}),
        ]
    );

    // Neither, or both: refused, and the answer says where.
    for (header, field) in [
        (json!({"type": "image"}), "parameters.header.link"),
        (
            json!({"type": "image", "link": {"value": "https://cdn.example/a.png"}, "media_id": {"value": "1013859600285441"}}),
            "parameters.header.media_id",
        ),
    ] {
        let mut campaign = with_header(header);
        campaign["name"] = json!("Cards");
        campaign["audience"] = json!({"whatsapp_groups": [group]});
        campaign["number_id"] = json!(c.inbox.number_id);
        campaign["template"] = json!({"name": TEMPLATE, "language": "en_US"});
        campaign["schedule"] = json!({"type": "onetime"});
        let refused = c.app().post("/api/v1/campaigns", c.admin(), campaign).await;
        assert_eq!(refused.problem_code(), "validation_failed");
        assert_eq!(
            refused.body["errors"][0]["field"], field,
            "{}",
            refused.body
        );
    }
}

/// Lipachat documents a template's header media by URL only (`mediaUrl` in
/// its template send body): a campaign whose header is an uploaded id cannot
/// start on a Lipachat number, and says why; the same campaign by link can.
#[tokio::test]
async fn a_lipachat_number_refuses_a_campaign_whose_header_is_an_uploaded_id() {
    let inbox = crate::inbound::Inbox::new(
        "lipachat",
        json!({"api_key": "lipa-key"}),
        json!({"phone": "254110090747", "is_default": true}),
    )
    .await;
    let c = Campaigns {
        inbox,
        meta: crate::harness::fake_provider::FakeProvider::start().await,
    };
    let template = c
        .app()
        .post(
            "/api/v1/templates",
            c.admin(),
            json!({"connection_id": c.inbox.connection["id"], "name": TEMPLATE, "language": "en_US",
                   "category": "MARKETING", "status": "APPROVED",
                   "components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": BODY}]}),
        )
        .await;
    assert_eq!(template.status, StatusCode::CREATED, "{}", template.body);
    let group = c
        .group(&[("Asha", "+254712000001", json!({"code": "A1"}))])
        .await;
    let body = json!([{"value": "{{name}}"}, {"value": "{{custom_fields.code}}"}]);

    let uploaded = c
        .create(
            &group,
            json!({"type": "onetime"}),
            json!({"parameters": {"header": {"type": "image", "media_id": {"value": "1013859600285441"}}, "body": body}}),
        )
        .await;
    let refused = c.act(&uploaded, "start").await;
    assert_eq!(refused.problem_code(), "campaign_not_startable");
    assert_eq!(refused.body["errors"][0]["field"], "parameters");
    assert!(
        refused.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("lipachat cannot send"),
        "{}",
        refused.body
    );

    let by_link = c
        .create(
            &group,
            json!({"type": "onetime", "send_at": (c.app().clock().now() + Duration::hours(1)).to_rfc3339()}),
            json!({"parameters": {"header": {"type": "image", "link": {"value": "https://cdn.example/a.png"}}, "body": body}}),
        )
        .await;
    let started = c.act(&by_link, "start").await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
}

#[tokio::test]
async fn quiet_hours_hold_a_recipient_until_morning_in_their_own_zone() {
    let c = Campaigns::new("MARKETING", BODY).await;
    // 19:00 UTC is 22:00 in Nairobi (quiet) and 14:00 in New York.
    let now = c.app().clock().now();
    let evening = (now + Duration::days(1))
        .with_hour(19)
        .and_then(|at| at.with_minute(0))
        .unwrap();
    c.app().clock().advance_to(evening);
    let group = c
        .group(&[
            ("Asha", "+254712000001", json!({"code": "A1"})),
            ("Ben", "+12125550123", json!({"code": "B2"})),
        ])
        .await;
    let campaign = c
        .create(
            &group,
            json!({"type": "onetime"}),
            json!({"quiet_hours": {"start": "21:00", "end": "08:00", "time_zone": "UTC"}}),
        )
        .await;
    assert_eq!(c.act(&campaign, "start").await.status, StatusCode::OK);

    c.work_until("New York is sent to", || async { c.sends().len() == 1 })
        .await;
    assert_eq!(c.sends()[0].0, "12125550123");
    let run = c.first_run(&campaign).await;
    assert!(
        c.recipients(&run)
            .await
            .contains(&("254712000001".into(), "pending".into(), None))
    );
    assert_eq!(c.campaign(&campaign).await["status"], "running");

    // 08:00 in Nairobi is 05:00 UTC.
    c.app()
        .clock()
        .advance_to(evening + Duration::hours(10) + Duration::minutes(1));
    c.work_until_status(&campaign, "completed").await;
    assert_eq!(c.sends().len(), 2);
    assert_eq!(c.sends()[1].0, "254712000001");
}

#[tokio::test]
async fn a_recurring_campaign_makes_a_run_per_occurrence_each_with_its_own_recipients() {
    let c = Campaigns::new("MARKETING", BODY).await;
    let group = c
        .group(&[
            ("Asha", "+254712000001", json!({"code": "A1"})),
            ("Ben", "+254712000002", json!({"code": "B2"})),
        ])
        .await;
    let first = (c.app().clock().now() + Duration::hours(1)).trunc_subsecs(0);
    let campaign = c
        .create(
            &group,
            json!({"type": "recurring", "start_at": first, "every_days": 1, "max_runs": 2}),
            json!({}),
        )
        .await;
    let started = c.act(&campaign, "start").await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert_eq!(started.body["next_run_at"], json!(first));

    // Nothing is due yet.
    c.app().run_jobs().await;
    assert!(c.sends().is_empty());

    c.app().clock().advance_to(first + Duration::seconds(1));
    c.work_until("the first run completed", || async {
        let runs = c.runs(&campaign).await;
        runs.len() == 2 && runs[1]["status"] == "completed"
    })
    .await;
    assert_eq!(c.sends().len(), 2);
    assert_eq!(c.campaign(&campaign).await["status"], "scheduled");

    // The second run materialises the group as it is then.
    let added = c
        .group(&[("Chidi", "+254712000003", json!({"code": "C3"}))])
        .await;
    let members = c
        .app()
        .get(
            &format!("/api/v1/whatsapp-groups/{added}/members"),
            c.admin(),
        )
        .await;
    let chidi = members.body["items"][0]["id"].as_str().unwrap().to_owned();
    c.app()
        .post(
            &format!("/api/v1/whatsapp-groups/{group}/members"),
            c.admin(),
            json!({"contact_ids": [chidi]}),
        )
        .await;
    c.app()
        .clock()
        .advance_to(first + Duration::days(1) + Duration::seconds(1));
    c.work_until_status(&campaign, "completed").await;
    let runs = c.runs(&campaign).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["occurrence"], 2);
    let second = runs[0]["id"].as_str().unwrap();
    assert_eq!(c.report(second).await["audience"], 3);
    assert_eq!(c.sends().len(), 5);
    assert_eq!(c.campaign(&campaign).await["next_run_at"], json!(null));
}

#[tokio::test]
async fn the_daily_budget_pauses_the_campaign_and_it_resumes_when_the_window_frees_up() {
    let c = Campaigns::new("MARKETING", BODY).await;
    let number = &c.inbox.number_id;
    let limited = c
        .app()
        .patch(
            &format!("/api/v1/numbers/{number}"),
            c.admin(),
            json!({"daily_recipient_limit": 250}),
        )
        .await;
    assert_eq!(limited.status, StatusCode::OK, "{}", limited.body);
    assert_eq!(limited.body["daily_recipient_limit"], 250);
    // An earlier campaign reached 248 distinct customers in the last hour.
    earlier_campaign_reached(c.app(), number, 248).await;

    let group = c
        .group(&[
            ("Asha", "+254712000001", json!({"code": "A1"})),
            ("Ben", "+254712000002", json!({"code": "B2"})),
            ("Chidi", "+254712000003", json!({"code": "C3"})),
            ("Dana", "+254712000004", json!({"code": "D4"})),
        ])
        .await;
    let campaign = c
        .create(&group, json!({"type": "onetime"}), json!({}))
        .await;
    assert_eq!(c.act(&campaign, "start").await.status, StatusCode::OK);
    c.work_until_status(&campaign, "paused").await;
    let paused = c.campaign(&campaign).await;
    assert_eq!(paused["pause_reason"], "daily_budget");
    assert_eq!(c.sends().len(), 2, "never more than the budget");

    // A day later the earlier sends have left the window.
    c.app()
        .clock()
        .advance(Duration::days(1) + Duration::minutes(1));
    c.work_until_status(&campaign, "completed").await;
    assert_eq!(c.sends().len(), 4);
}

/// Records that a campaign of long ago reached `phones` distinct customers
/// from `number` just now (arranged in the database: sending 248 messages
/// through the fake provider would only slow the test).
async fn earlier_campaign_reached(app: &crate::harness::TestApp, number: &str, phones: i32) {
    use diesel_async::RunQueryDsl as _;
    let mut db = app.db().await;
    let number: uuid::Uuid = number.parse().unwrap();
    diesel::sql_query(
        "WITH c AS (INSERT INTO campaigns (id, name, status, audience, number_id, template_name, template_language, schedule) \
                    VALUES (gen_random_uuid(), 'earlier', 'completed', '{}', $1, 'old', 'en', '{\"type\": \"onetime\"}') RETURNING id), \
              r AS (INSERT INTO campaign_runs (id, campaign_id, occurrence, scheduled_at, status) \
                    SELECT gen_random_uuid(), c.id, 1, now(), 'completed' FROM c RETURNING id) \
         INSERT INTO campaign_recipients (run_id, number_id, phone, rel_type, status, queued_at) \
         SELECT r.id, $1, '2547990' || lpad(g::text, 5, '0'), 'whatsapp_contact', 'queued', now() \
         FROM r, generate_series(1, $2) g",
    )
    .bind::<diesel::sql_types::Uuid, _>(number)
    .bind::<diesel::sql_types::Integer, _>(phones)
    .execute(&mut db)
    .await
    .unwrap();
}
