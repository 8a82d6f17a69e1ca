//! CRM-event template notifications end to end (seed 001's `whatsapp_api`
//! module): an admin maps an event type to an approved template; our own lead,
//! contact and ticket writes and the host CRM's `POST /api/v1/events` raise
//! events; each reaches the fake Graph API as a template with its parameters,
//! once, at its time, and what is not sent is logged with the reason.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::Answer;
use crate::harness::fake_provider::FakeProvider;
use crate::inbound::Inbox;
use crate::outbound::{CUSTOMER, messages_path, meta_outbox};

const LEAD_PHONE: &str = "254700000001";
const STAFF_PHONE: &str = "254700000003";
const FORM_PHONE: &str = "254700000004";

/// Every send is accepted under an id of its own.
fn accept_every_send(meta: &FakeProvider) {
    meta.script_json_each("POST", &messages_path(), 200, |n| {
        json!({"messaging_product": "whatsapp", "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
               "messages": [{"id": format!("wamid.N{n}")}]})
    });
}

/// Registers `name` (en) on the inbox's connection with a body of `params`
/// placeholders.
async fn template(inbox: &Inbox, name: &str, category: &str, params: usize) {
    let placeholders: Vec<String> = (1..=params).map(|i| format!("{{{{{i}}}}}")).collect();
    let created = inbox
        .app
        .post(
            "/api/v1/templates",
            &inbox.admin,
            json!({"connection_id": inbox.connection["id"], "name": name, "language": "en",
                   "category": category, "components": [{"type": "BODY", "text": format!("Notice: {}", placeholders.join(" / "))}]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
}

/// Creates a mapping of `event_type` to `template` with these body parameters.
async fn mapping(
    inbox: &Inbox,
    event_type: &str,
    template: &str,
    send_to: Value,
    body: &[&str],
    extra: Value,
) -> Answer {
    let mut request = json!({"name": format!("{event_type} notice"), "event_type": event_type,
        "number_id": inbox.number_id, "template": {"name": template, "language": "en"},
        "send_to": send_to,
        "parameters": {"body": body.iter().map(|value| json!({"value": value})).collect::<Vec<_>>()}});
    for (key, value) in extra.as_object().unwrap() {
        request[key] = value.clone();
    }
    inbox
        .app
        .post("/api/v1/notification-mappings", &inbox.admin, request)
        .await
}

async fn mapped(
    inbox: &Inbox,
    event_type: &str,
    template: &str,
    send_to: Value,
    body: &[&str],
    extra: Value,
) -> String {
    let created = mapping(inbox, event_type, template, send_to, body, extra).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

/// An API key allowed to report events.
async fn integrator_key(inbox: &Inbox) -> String {
    let created = inbox
        .app
        .post(
            "/api/v1/api-keys",
            &inbox.admin,
            json!({"name": "host CRM", "permissions": ["crm_events:create"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["secret"].as_str().unwrap().to_owned()
}

async fn report(inbox: &Inbox, key: &str, event: Value) -> Answer {
    inbox
        .app
        .post_raw(
            "/api/v1/events",
            event.to_string().as_bytes(),
            &[("x-api-key", key)],
        )
        .await
}

fn event(id: &str, kind: &str, data: Value) -> Value {
    json!({"id": id, "type": kind, "occurred_at": Utc::now().to_rfc3339(), "data": data})
}

/// (recipient, body parameters) of every template the fake Graph API was asked to send.
fn templates_sent(meta: &FakeProvider) -> Vec<(String, Vec<String>)> {
    meta.requests_to("POST", &messages_path())
        .iter()
        .map(|request| {
            let sent = request.json();
            assert_eq!(sent["type"], "template", "{sent}");
            let params = sent["template"]["components"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|component| component["type"] == "body")
                .flat_map(|component| component["parameters"].as_array().unwrap().clone())
                .map(|param| param["text"].as_str().unwrap().to_owned())
                .collect();
            (sent["to"].as_str().unwrap().to_owned(), params)
        })
        .collect()
}

async fn log(inbox: &Inbox, query: &str) -> Vec<Value> {
    let answer = inbox
        .app
        .get(&format!("/api/v1/notifications?{query}"), &inbox.admin)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn each_seed_event_reaches_its_recipient_through_a_mapping_with_its_parameters() {
    let (inbox, meta) = meta_outbox().await;
    accept_every_send(&meta);
    template(&inbox, "crm_notice", "UTILITY", 2).await;
    let staff = inbox
        .app
        .post(
            "/api/v1/staff",
            &inbox.admin,
            json!({"name": "Otieno", "email": "otieno@example.com", "password": "otieno-password", "phone": format!("+{STAFF_PHONE}")}),
        )
        .await;
    assert_eq!(staff.status, StatusCode::CREATED, "{}", staff.body);
    let staff_id = staff.body["id"].as_str().unwrap().to_owned();

    let (contact, lead, staff_to) = (
        json!({"type": "contact"}),
        json!({"type": "lead"}),
        json!({"type": "staff"}),
    );
    let none = json!({});
    mapped(
        &inbox,
        "lead_created",
        "crm_notice",
        lead.clone(),
        &["{{lead.name}}", "welcome"],
        none.clone(),
    )
    .await;
    mapped(
        &inbox,
        "web_to_lead_form_submitted",
        "crm_notice",
        json!({"type": "phone_field", "path": "form.phone"}),
        &["{{form.name}}", "{{form.form_name}}"],
        none.clone(),
    )
    .await;
    mapped(
        &inbox,
        "contact_created",
        "crm_notice",
        contact.clone(),
        &["{{contact.name}}", "{{contact.company}}"],
        none.clone(),
    )
    .await;
    mapped(
        &inbox,
        "after_invoice_added",
        "crm_notice",
        contact.clone(),
        &[
            "{{invoice.number}}",
            "{{invoice.total}} {{invoice.currency}}",
        ],
        none.clone(),
    )
    .await;
    mapped(
        &inbox,
        "after_add_task",
        "crm_notice",
        staff_to.clone(),
        &["{{task.name}}", "{{task.due_date}}"],
        none.clone(),
    )
    .await;
    mapped(
        &inbox,
        "after_add_project",
        "crm_notice",
        contact.clone(),
        &["{{project.name}}", "{{project.deadline}}"],
        none.clone(),
    )
    .await;
    mapped(
        &inbox,
        "proposal_created",
        "crm_notice",
        lead.clone(),
        &["{{proposal.subject}}", "{{proposal.link}}"],
        none.clone(),
    )
    .await;
    mapped(
        &inbox,
        "after_payment_added",
        "crm_notice",
        contact.clone(),
        &[
            "{{payment.amount}} {{payment.currency}}",
            "{{payment.invoice_number}}",
        ],
        none.clone(),
    )
    .await;
    mapped(
        &inbox,
        "ticket_created",
        "crm_notice",
        staff_to.clone(),
        &["{{ticket.subject}}", "{{contact.name}}"],
        none.clone(),
    )
    .await;
    mapped(
        &inbox,
        "after_cron_run",
        "crm_notice",
        contact.clone(),
        &["{{reminder.name}}", "{{reminder.text}}"],
        none.clone(),
    )
    .await;

    // Our own writes: each answers 201 at once, its event committed with it.
    let lead_row = inbox
        .app
        .post(
            "/api/v1/leads",
            &inbox.admin,
            json!({"name": "Asha", "phone": format!("+{LEAD_PHONE}")}),
        )
        .await;
    assert_eq!(lead_row.status, StatusCode::CREATED, "{}", lead_row.body);
    let lead_id = lead_row.body["id"].as_str().unwrap().to_owned();
    let contact_row = inbox
        .app
        .post(
            "/api/v1/contacts",
            &inbox.admin,
            json!({"name": "Wanjiru", "phone": format!("+{CUSTOMER}"), "company": "Acme"}),
        )
        .await;
    assert_eq!(
        contact_row.status,
        StatusCode::CREATED,
        "{}",
        contact_row.body
    );
    let contact_id = contact_row.body["id"].as_str().unwrap().to_owned();
    let ticket = inbox
        .app
        .post("/api/v1/tickets", &inbox.admin,
            json!({"subject": "Printer on fire", "priority": "high", "assigned_to": staff_id, "contact_id": contact_id}))
        .await;
    assert_eq!(ticket.status, StatusCode::CREATED, "{}", ticket.body);

    // The host CRM reports the rest.
    let key = integrator_key(&inbox).await;
    let reported = [
        event(
            "form-1",
            "web_to_lead_form_submitted",
            json!({"form_name": "Contact us", "name": "Baraka", "phone": format!("+{FORM_PHONE}")}),
        ),
        event(
            "inv-1042",
            "after_invoice_added",
            json!({"number": "INV-1042", "total": 1250.5, "currency": "KES", "contact_id": contact_id}),
        ),
        event(
            "task-7",
            "after_add_task",
            json!({"name": "Call back", "due_date": "2026-12-10", "staff_id": staff_id}),
        ),
        event(
            "project-3",
            "after_add_project",
            json!({"name": "Website", "deadline": "2027-01-31", "contact_id": contact_id}),
        ),
        event(
            "proposal-9",
            "proposal_created",
            json!({"subject": "Solar kit", "link": "https://crm.example.com/p/9", "lead_id": lead_id}),
        ),
        event(
            "payment-5",
            "after_payment_added",
            json!({"amount": 500, "currency": "KES", "invoice_number": "INV-1042", "contact_id": contact_id}),
        ),
        event(
            "cron-2026-11-30",
            "after_cron_run",
            json!({"name": "Service due", "text": "book your visit", "contact_id": contact_id}),
        ),
    ];
    for body in reported {
        let answer = report(&inbox, &key, body).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
        assert_eq!(answer.body["status"], "pending");
    }
    inbox.app.run_jobs().await;

    let mut sent = templates_sent(&meta);
    sent.sort();
    let text = |values: &[&str]| {
        values
            .iter()
            .map(|value| (*value).to_owned())
            .collect::<Vec<_>>()
    };
    let mut expected = vec![
        (LEAD_PHONE.to_owned(), text(&["Asha", "welcome"])),
        (FORM_PHONE.to_owned(), text(&["Baraka", "Contact us"])),
        (CUSTOMER.to_owned(), text(&["Wanjiru", "Acme"])),
        (CUSTOMER.to_owned(), text(&["INV-1042", "1250.5 KES"])),
        (STAFF_PHONE.to_owned(), text(&["Call back", "2026-12-10"])),
        (CUSTOMER.to_owned(), text(&["Website", "2027-01-31"])),
        (
            LEAD_PHONE.to_owned(),
            text(&["Solar kit", "https://crm.example.com/p/9"]),
        ),
        (CUSTOMER.to_owned(), text(&["500 KES", "INV-1042"])),
        (
            STAFF_PHONE.to_owned(),
            text(&["Printer on fire", "Wanjiru"]),
        ),
        (
            CUSTOMER.to_owned(),
            text(&["Service due", "book your visit"]),
        ),
    ];
    expected.sort();
    assert_eq!(sent, expected);

    // Each is in the log with its message, sent by its mapping.
    let logged = log(&inbox, "limit=50").await;
    assert_eq!(logged.len(), 10);
    for entry in &logged {
        assert_eq!(entry["outcome"], "sent", "{entry}");
        assert_eq!(entry["message_status"], "sent", "{entry}");
        assert_eq!(entry["parameters"]["name"], "crm_notice");
        let message = inbox
            .app
            .get(
                &format!("/api/v1/messages/{}", entry["message_id"].as_str().unwrap()),
                &inbox.admin,
            )
            .await;
        assert_eq!(
            message.body["sent_by"],
            format!("notification:{}", entry["mapping_id"].as_str().unwrap())
        );
    }
    let invoices = log(&inbox, "event_type=after_invoice_added").await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["event_key"], "inv-1042");
    assert_eq!(invoices[0]["phone"], CUSTOMER);
    assert_eq!(
        invoices[0]["parameters"]["body_params"],
        json!(["INV-1042", "1250.5 KES"])
    );
}

#[tokio::test]
async fn the_same_event_id_twice_sends_once_and_answers_the_first_result() {
    let (inbox, meta) = meta_outbox().await;
    accept_every_send(&meta);
    template(&inbox, "payment_received", "UTILITY", 1).await;
    mapped(
        &inbox,
        "after_payment_added",
        "payment_received",
        json!({"type": "phone_field", "path": "payment.phone"}),
        &["{{payment.amount}}"],
        json!({}),
    )
    .await;
    let key = integrator_key(&inbox).await;
    let body = event(
        "pay-1",
        "after_payment_added",
        json!({"amount": 900, "currency": "KES", "phone": format!("+{CUSTOMER}")}),
    );

    let first = report(&inbox, &key, body.clone()).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    assert_eq!(first.body["duplicate"], false);
    let again = report(&inbox, &key, body.clone()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["event_id"], first.body["event_id"]);
    inbox.app.run_jobs().await;
    // Once processed, a third delivery still sends nothing.
    let late = report(&inbox, &key, body.clone()).await;
    assert_eq!(late.status, StatusCode::OK);
    assert_eq!(late.body["status"], "processed");
    inbox.app.run_jobs().await;
    assert_eq!(
        templates_sent(&meta),
        [(CUSTOMER.to_owned(), vec!["900".to_owned()])]
    );
    assert_eq!(log(&inbox, "").await.len(), 1);

    // The same id with other data is a mistake, said so.
    let mut changed = body.clone();
    changed["data"]["amount"] = json!(901);
    let reused = report(&inbox, &key, changed).await;
    assert_eq!(reused.status, StatusCode::CONFLICT);
    assert_eq!(reused.problem_code(), "event_id_reused");

    // Bad events are refused field by field; the permission is required.
    let unknown = report(&inbox, &key, event("x-1", "lead_deleted", json!({}))).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.body["errors"][0]["field"], "type");
    let no_total = report(
        &inbox,
        &key,
        event(
            "x-2",
            "after_invoice_added",
            json!({"number": "INV-1", "currency": "KES"}),
        ),
    )
    .await;
    assert_eq!(no_total.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_total.body["errors"][0]["field"], "data");
    let (_, agent) = inbox.app.staff_with(&["leads:create"]).await;
    let forbidden = inbox.app.post("/api/v1/events", &agent, body).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let mappings = inbox.app.get("/api/v1/notification-mappings", &agent).await;
    assert_eq!(mappings.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_reminder_fires_at_its_time_and_a_payment_cancels_the_one_still_pending() {
    let (inbox, meta) = meta_outbox().await;
    accept_every_send(&meta);
    template(&inbox, "invoice_due", "UTILITY", 2).await;
    template(&inbox, "thanks", "UTILITY", 1).await;
    let contact = inbox
        .app
        .post(
            "/api/v1/contacts",
            &inbox.admin,
            json!({"name": "Wanjiru", "phone": format!("+{CUSTOMER}")}),
        )
        .await;
    let contact_id = contact.body["id"].as_str().unwrap().to_owned();
    mapped(
        &inbox,
        "after_invoice_added",
        "invoice_due",
        json!({"type": "contact"}),
        &["{{invoice.number}}", "{{invoice.due_date}}"],
        json!({"reminder": {"field": "invoice.due_date", "offset_hours": -72}}),
    )
    .await;
    mapped(
        &inbox,
        "invoice_paid",
        "thanks",
        json!({"type": "contact"}),
        &["{{invoice.number}}"],
        json!({"delay_minutes": 30}),
    )
    .await;
    let key = integrator_key(&inbox).await;
    let due = (Utc::now() + Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    for number in ["INV-1", "INV-2"] {
        let added = report(&inbox, &key, event(&format!("{number}-added"), "after_invoice_added",
            json!({"number": number, "total": 100, "currency": "KES", "due_date": due, "contact_id": contact_id}))).await;
        assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.body);
    }
    inbox.app.run_jobs().await;
    assert!(templates_sent(&meta).is_empty());
    let scheduled = log(&inbox, "outcome=scheduled").await;
    assert_eq!(scheduled.len(), 2);
    assert!(scheduled.iter().all(|entry| {
        entry["send_at"].as_str().unwrap().starts_with(
            &(Utc::now() + Duration::days(7))
                .format("%Y-%m-%d")
                .to_string(),
        )
    }));

    // INV-2 is paid: its reminder is cancelled; the thank-you waits 30 minutes.
    let paid = report(
        &inbox,
        &key,
        event(
            "INV-2-paid",
            "invoice_paid",
            json!({"number": "INV-2", "total": 100, "currency": "KES", "contact_id": contact_id}),
        ),
    )
    .await;
    assert_eq!(paid.status, StatusCode::ACCEPTED);
    inbox.app.run_jobs().await;
    assert!(templates_sent(&meta).is_empty());
    let cancelled = log(&inbox, "outcome=cancelled").await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["reason"], "superseded");
    assert_eq!(cancelled[0]["event_key"], "INV-2-added");

    inbox.app.clock().advance(Duration::minutes(31));
    inbox.app.run_jobs().await;
    assert_eq!(
        templates_sent(&meta),
        [(CUSTOMER.to_owned(), vec!["INV-2".to_owned()])]
    );

    // Three days before INV-1 falls due, its reminder goes; INV-2's never does.
    inbox.app.clock().advance(Duration::days(8));
    inbox.app.run_jobs().await;
    let sent = templates_sent(&meta);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(
        sent[1],
        (CUSTOMER.to_owned(), vec!["INV-1".to_owned(), due.clone()])
    );
    assert!(log(&inbox, "outcome=scheduled").await.is_empty());
    assert_eq!(log(&inbox, "outcome=sent").await.len(), 2);

    // A reminder whose time has passed is not sent late: it is logged.
    let late = report(&inbox, &key, event("INV-3-added", "after_invoice_added",
        json!({"number": "INV-3", "total": 100, "currency": "KES", "due_date": due, "contact_id": contact_id}))).await;
    assert_eq!(late.status, StatusCode::ACCEPTED);
    inbox.app.run_jobs().await;
    let skipped = log(&inbox, "outcome=skipped").await;
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["reason"], "reminder_passed");
    assert_eq!(templates_sent(&meta).len(), 2);

    // Paid before the host CRM reported it added: no reminder is scheduled.
    let due_later = (Utc::now() + Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let invoice = json!({"number": "INV-4", "total": 100, "currency": "KES", "due_date": due_later, "contact_id": contact_id});
    let paid_first = report(
        &inbox,
        &key,
        event("INV-4-paid", "invoice_paid", invoice.clone()),
    )
    .await;
    assert_eq!(paid_first.status, StatusCode::ACCEPTED);
    inbox.app.run_jobs().await;
    let added_late = report(
        &inbox,
        &key,
        event("INV-4-added", "after_invoice_added", invoice),
    )
    .await;
    assert_eq!(added_late.status, StatusCode::ACCEPTED);
    inbox.app.run_jobs().await;
    let cancelled = log(&inbox, "outcome=cancelled").await;
    assert_eq!(cancelled.len(), 2);
    assert_eq!(cancelled[0]["event_key"], "INV-4-added");
    assert_eq!(cancelled[0]["reason"], "superseded");
}

#[tokio::test]
async fn opted_out_and_unapproved_are_logged_not_sent_and_the_crm_write_still_succeeds() {
    let (inbox, meta) = meta_outbox().await;
    accept_every_send(&meta);
    template(&inbox, "spring_sale", "MARKETING", 1).await;
    template(&inbox, "lead_welcome", "UTILITY", 1).await;
    let sale = mapped(
        &inbox,
        "contact_created",
        "spring_sale",
        json!({"type": "contact"}),
        &["{{contact.name}}"],
        json!({}),
    )
    .await;
    let welcome = mapped(
        &inbox,
        "lead_created",
        "lead_welcome",
        json!({"type": "lead"}),
        &["{{lead.name}}"],
        json!({}),
    )
    .await;

    // Saving checks the template and the parameters.
    let wrong_count = mapping(
        &inbox,
        "lead_created",
        "lead_welcome",
        json!({"type": "lead"}),
        &["{{lead.name}}", "{{lead.email}}"],
        json!({}),
    )
    .await;
    assert_eq!(wrong_count.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_count.problem_code(), "validation_failed");
    assert_eq!(wrong_count.body["errors"][0]["field"], "parameters");
    let wrong_root = mapping(
        &inbox,
        "lead_created",
        "lead_welcome",
        json!({"type": "lead"}),
        &["{{invoice.total}}"],
        json!({}),
    )
    .await;
    assert_eq!(
        wrong_root.body["errors"][0]["field"], "parameters.body[0]",
        "{}",
        wrong_root.body
    );

    // The customer opted out of marketing; the welcome template is paused.
    let opted_out = inbox
        .app
        .call(
            Method::PUT,
            &format!("/api/v1/consent/{CUSTOMER}"),
            Some(&inbox.admin),
            Some(json!({"state": "opted_out", "reason": "asked on the phone"})),
        )
        .await;
    assert_eq!(opted_out.status, StatusCode::OK, "{}", opted_out.body);
    let templates = inbox
        .app
        .get("/api/v1/templates?name=lead_welcome", &inbox.admin)
        .await;
    let template_id = templates.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paused = inbox
        .app
        .patch(
            &format!("/api/v1/templates/{template_id}"),
            &inbox.admin,
            json!({"status": "PAUSED"}),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    let flagged = inbox
        .app
        .get(
            &format!("/api/v1/notification-mappings/{welcome}"),
            &inbox.admin,
        )
        .await;
    assert_eq!(
        flagged.body["problem"]["code"], "template_not_approved",
        "{}",
        flagged.body
    );
    assert!(
        flagged.body["problem"]["detail"]
            .as_str()
            .unwrap()
            .contains("PAUSED")
    );
    let listed = inbox
        .app
        .get("/api/v1/notification-mappings?flagged=true", &inbox.admin)
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let refused = mapping(
        &inbox,
        "lead_created",
        "lead_welcome",
        json!({"type": "lead"}),
        &["{{lead.name}}"],
        json!({}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.problem_code(), "template_not_approved");

    // The CRM writes succeed all the same.
    let contact = inbox
        .app
        .post(
            "/api/v1/contacts",
            &inbox.admin,
            json!({"name": "Wanjiru", "phone": format!("+{CUSTOMER}")}),
        )
        .await;
    assert_eq!(contact.status, StatusCode::CREATED, "{}", contact.body);
    let lead = inbox
        .app
        .post(
            "/api/v1/leads",
            &inbox.admin,
            json!({"name": "Asha", "phone": format!("+{LEAD_PHONE}")}),
        )
        .await;
    assert_eq!(lead.status, StatusCode::CREATED, "{}", lead.body);
    let phoneless = inbox
        .app
        .post("/api/v1/contacts", &inbox.admin, json!({"name": "Nobody"}))
        .await;
    assert_eq!(phoneless.status, StatusCode::CREATED);
    inbox.app.run_jobs().await;

    assert!(templates_sent(&meta).is_empty());
    let mut reasons: Vec<(String, String)> = log(&inbox, "outcome=skipped")
        .await
        .iter()
        .map(|entry| {
            (
                entry["event_type"].as_str().unwrap().to_owned(),
                entry["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("contact_created".to_owned(), "no_phone".to_owned()),
            ("contact_created".to_owned(), "opted_out".to_owned()),
            (
                "lead_created".to_owned(),
                "template_not_approved".to_owned()
            ),
        ]
    );
    let by_sale = log(&inbox, &format!("mapping_id={sale}")).await;
    assert_eq!(by_sale.len(), 2);
    // A refused send leaves no empty conversation behind.
    assert!(inbox.conversations("").await.is_empty());

    // Approved again, the mapping is cleared and the next lead is welcomed.
    inbox
        .app
        .patch(
            &format!("/api/v1/templates/{template_id}"),
            &inbox.admin,
            json!({"status": "APPROVED"}),
        )
        .await;
    let cleared = inbox
        .app
        .get(
            &format!("/api/v1/notification-mappings/{welcome}"),
            &inbox.admin,
        )
        .await;
    assert!(cleared.body["problem"].is_null(), "{}", cleared.body);
    inbox
        .app
        .post(
            "/api/v1/leads",
            &inbox.admin,
            json!({"name": "Juma", "phone": "+254700000009"}),
        )
        .await;
    inbox.app.run_jobs().await;
    assert_eq!(
        templates_sent(&meta),
        [("254700000009".to_owned(), vec!["Juma".to_owned()])]
    );
}

#[tokio::test]
async fn a_lead_made_by_auto_lead_is_welcomed_in_its_conversation() {
    let (inbox, meta) = meta_outbox().await;
    accept_every_send(&meta);
    template(&inbox, "lead_welcome", "UTILITY", 1).await;
    mapped(
        &inbox,
        "lead_created",
        "lead_welcome",
        json!({"type": "lead"}),
        &["{{lead.name}}"],
        json!({}),
    )
    .await;
    let auto_lead = inbox
        .app
        .call(
            Method::PUT,
            "/api/v1/settings/auto-lead",
            Some(&inbox.admin),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(auto_lead.status, StatusCode::OK, "{}", auto_lead.body);

    // An unknown sender becomes a lead; its lead_created committed with it.
    let conversation = crate::outbound::customer_writes(&inbox, "wamid.AUTO1", 5).await;
    inbox.app.run_jobs().await;

    assert_eq!(
        templates_sent(&meta),
        [(CUSTOMER.to_owned(), vec!["Wanjiru".to_owned()])]
    );
    let logged = log(&inbox, "event_type=lead_created").await;
    assert_eq!(logged.len(), 1);
    assert!(
        logged[0]["event_key"]
            .as_str()
            .unwrap()
            .starts_with("lead_created:")
    );
    let (only, _) = inbox.only_conversation().await;
    assert_eq!(only["id"], conversation.as_str());
}

#[tokio::test]
async fn a_provider_refusal_shows_in_the_log_with_the_providers_error() {
    let (inbox, meta) = meta_outbox().await;
    meta.script_json("POST", &messages_path(), 400, json!({"error": {"message": "Message undeliverable", "type": "OAuthException", "code": 131026,
        "error_data": {"messaging_product": "whatsapp", "details": "Message Undeliverable."}, "fbtrace_id": "x"}}));
    template(&inbox, "task_assigned", "UTILITY", 1).await;
    mapped(
        &inbox,
        "after_add_task",
        "task_assigned",
        json!({"type": "phone_field", "path": "task.phone"}),
        &["{{task.name}}"],
        json!({}),
    )
    .await;
    let key = integrator_key(&inbox).await;
    let answer = report(
        &inbox,
        &key,
        event(
            "task-1",
            "after_add_task",
            json!({"name": "Call back", "phone": format!("+{CUSTOMER}")}),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    inbox.app.run_jobs().await;

    let logged = log(&inbox, "").await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0]["outcome"], "sent", "handed to the outbox");
    assert_eq!(logged[0]["message_status"], "failed");
    assert_eq!(logged[0]["message_error"]["provider_code"], "131026");
}

/// A client that holds every number as a double writes `30.0` and `-72.0`: they are
/// the integers JSON Schema says they are, on create and on update; `30.5` is not.
#[tokio::test]
async fn whole_numbers_written_with_a_fraction_are_read_as_integers() {
    let (inbox, _meta) = meta_outbox().await;
    template(&inbox, "invoice_due", "UTILITY", 1).await;
    let created = mapping(
        &inbox,
        "after_invoice_added",
        "invoice_due",
        json!({"type": "contact"}),
        &["{{invoice.number}}"],
        json!({"reminder": {"field": "invoice.due_date", "offset_hours": -72.0}}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["reminder"]["offset_hours"], json!(-72));
    let id = created.body["id"].as_str().unwrap();

    let mut update = created.body.clone();
    for field in [
        "id",
        "problem",
        "created_at",
        "updated_at",
        "event_type",
        "reminder",
    ] {
        update.as_object_mut().unwrap().remove(field);
    }
    update["event_type"] = json!("invoice_paid");
    update["delay_minutes"] = json!(30.0);
    let path = format!("/api/v1/notification-mappings/{id}");
    let updated = inbox
        .app
        .call(Method::PUT, &path, Some(&inbox.admin), Some(update.clone()))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["delay_minutes"], json!(30));
    let stored = inbox.app.get(&path, &inbox.admin).await;
    assert_eq!(stored.body["delay_minutes"], json!(30));

    update["delay_minutes"] = json!(30.5);
    let refused = inbox
        .app
        .call(Method::PUT, &path, Some(&inbox.admin), Some(update))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(refused.body["code"], "invalid_body");
}
