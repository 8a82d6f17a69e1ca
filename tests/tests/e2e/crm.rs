//! Leads, their notes, statuses and sources, and contacts: CRUD, filters and
//! pagination, as an agent would use them.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestApp;

fn id(answer: &crate::harness::Answer) -> String {
    answer.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", answer.body))
        .to_owned()
}

/// Every item of a list from `cursor` on, page by page, with the given page size.
async fn walk(
    app: &TestApp,
    token: &str,
    path: &str,
    limit: usize,
    mut cursor: Option<String>,
) -> Vec<Value> {
    let mut items = Vec::new();
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{separator}limit={limit}");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page = app.get(&url, token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let batch = page.body["items"].as_array().unwrap().clone();
        assert!(batch.len() <= limit);
        items.extend(batch);
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

#[tokio::test]
async fn a_lead_is_created_read_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let status = app
        .post(
            "/api/v1/lead-statuses",
            &token,
            json!({"name": "New", "position": 1, "color": "#0a0"}),
        )
        .await;
    assert_eq!(status.status, StatusCode::CREATED);
    let source = app
        .post("/api/v1/lead-sources", &token, json!({"name": "WhatsApp"}))
        .await;
    let (agent_id, _) = app.staff_with(&["leads:view"]).await;

    let created = app
        .post(
            "/api/v1/leads",
            &token,
            json!({
                "name": "Ana Souza", "phone": "+55 (11) 98765-4321", "email": "Ana@Example.com",
                "status_id": id(&status), "source_id": id(&source), "assigned_staff_id": agent_id,
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["phone"], "+55 (11) 98765-4321");
    assert_eq!(created.body["phone_normalized"], "5511987654321");
    assert_eq!(created.body["email"], "ana@example.com");
    let lead = id(&created);

    let fetched = app.get(&format!("/api/v1/leads/{lead}"), &token).await;
    assert_eq!(fetched.body, created.body);

    let updated = app
        .patch(
            &format!("/api/v1/leads/{lead}"),
            &token,
            json!({"name": "Ana S.", "email": null, "assigned_staff_id": null}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["name"], "Ana S.");
    assert_eq!(updated.body["email"], Value::Null);
    assert_eq!(updated.body["assigned_staff_id"], Value::Null);
    assert_eq!(
        updated.body["phone_normalized"], "5511987654321",
        "untouched fields stay"
    );

    // A status in use cannot go; once the lead is gone it can.
    let in_use = app
        .delete(&format!("/api/v1/lead-statuses/{}", id(&status)), &token)
        .await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert_eq!(in_use.problem_code(), "in_use");
    assert_eq!(
        app.delete(&format!("/api/v1/leads/{lead}"), &token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/v1/leads/{lead}"), &token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/api/v1/lead-statuses/{}", id(&status)), &token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

/// The document requires `name` when a status is created and not when one is
/// changed; the API answers as the document says: a create without it is a body
/// of the wrong shape (400), a patch without it changes the other fields.
#[tokio::test]
async fn a_lead_status_needs_its_name_when_created_only() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for body in [json!({"position": 1}), json!({"name": null, "position": 1})] {
        let refused = app.post("/api/v1/lead-statuses", &token, body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert_eq!(refused.body["code"], "invalid_body");
    }
    let created = app
        .post(
            "/api/v1/lead-statuses",
            &token,
            json!({"name": "Warm", "color": null}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["color"], Value::Null);
    let patched = app
        .patch(
            &format!("/api/v1/lead-statuses/{}", id(&created)),
            &token,
            json!({"position": 7, "color": "#f80"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["name"], "Warm");
    assert_eq!(patched.body["position"], 7);
    assert_eq!(patched.body["color"], "#f80");
    let document = app.get("/api-docs/openapi.json", &token).await;
    let schemas = &document.body["components"]["schemas"];
    assert_eq!(
        schemas["CreateLeadStatusRequest"]["required"],
        json!(["name"])
    );
    assert!(schemas["UpdateLeadStatusRequest"].get("required").is_none());
}

#[tokio::test]
async fn leads_filter_by_status_assignee_phone_and_text() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let hot = id(&app
        .post("/api/v1/lead-statuses", &token, json!({"name": "Hot"}))
        .await);
    let (agent, _) = app.staff_with(&[]).await;
    for (name, phone, status, assignee) in [
        ("Ana", "+254 712 345 678", Some(&hot), Some(&agent)),
        ("Bruno", "+254 733 000 111", Some(&hot), None),
        ("Carla", "+44 20 7946 0958", None, Some(&agent)),
    ] {
        let created = app
            .post("/api/v1/leads", &token, json!({"name": name, "phone": phone, "status_id": status, "assigned_staff_id": assignee}))
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let names = |answer: crate::harness::Answer| -> Vec<String> {
        let mut names: Vec<String> = answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(
            app.get(&format!("/api/v1/leads?status_id={hot}"), &token)
                .await
        ),
        ["Ana", "Bruno"]
    );
    assert_eq!(
        names(
            app.get(&format!("/api/v1/leads?assigned_staff_id={agent}"), &token)
                .await
        ),
        ["Ana", "Carla"]
    );
    assert_eq!(
        names(
            app.get(
                &format!("/api/v1/leads?status_id={hot}&assigned_staff_id={agent}"),
                &token
            )
            .await
        ),
        ["Ana"]
    );
    // The phone matches however it is written.
    assert_eq!(
        names(app.get("/api/v1/leads?phone=00254712345678", &token).await),
        ["Ana"]
    );
    assert_eq!(
        names(app.get("/api/v1/leads?q=bru", &token).await),
        ["Bruno"]
    );
    assert_eq!(
        names(app.get("/api/v1/leads?q=%25", &token).await),
        Vec::<String>::new(),
        "wildcards are literal"
    );
}

#[tokio::test]
async fn pages_never_repeat_or_skip_even_while_rows_are_added() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let mut created = HashSet::new();
    for n in 0..7 {
        created.insert(id(&app
            .post(
                "/api/v1/contacts",
                &token,
                json!({"name": format!("Contact {n}")}),
            )
            .await));
    }
    let first = app.get("/api/v1/contacts?limit=3", &token).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    // A newer row appears between pages: it belongs before the cursor, so the
    // walk neither repeats nor skips what it has not seen yet.
    app.post("/api/v1/contacts", &token, json!({"name": "Late"}))
        .await;
    let mut seen: Vec<String> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let rest = walk(&app, &token, "/api/v1/contacts", 3, Some(cursor)).await;
    seen.extend(rest.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
    assert_eq!(seen.len(), 7, "no repeats: {seen:?}");
    assert_eq!(
        seen.iter().cloned().collect::<HashSet<_>>(),
        created,
        "no skips"
    );

    let all = walk(&app, &token, "/api/v1/contacts", 2, None).await;
    assert_eq!(all.len(), 8);
    assert_eq!(all[0]["name"], "Late", "newest first");
}

#[tokio::test]
async fn lead_notes_are_kept_newest_first() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let lead = id(&app
        .post("/api/v1/leads", &token, json!({"name": "Ana"}))
        .await);
    for text in ["called, no answer", "sent the brochure"] {
        let note = app
            .post(
                &format!("/api/v1/leads/{lead}/notes"),
                &token,
                json!({"body": text}),
            )
            .await;
        assert_eq!(note.status, StatusCode::CREATED);
        assert!(note.body["created_by"].is_string());
    }
    let notes = app
        .get(&format!("/api/v1/leads/{lead}/notes"), &token)
        .await;
    let bodies: Vec<&str> = notes.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["sent the brochure", "called, no answer"]);
    let missing = uuid::Uuid::now_v7();
    assert_eq!(
        app.post(
            &format!("/api/v1/leads/{missing}/notes"),
            &token,
            json!({"body": "x"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn references_and_duplicates_are_checked() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let ghost = uuid::Uuid::now_v7();
    let answer = app
        .post(
            "/api/v1/leads",
            &token,
            json!({"name": "Ana", "status_id": ghost}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.problem_code(), "invalid_reference");
    assert_eq!(answer.body["errors"][0]["field"], "status_id");

    assert_eq!(
        app.post("/api/v1/lead-sources", &token, json!({"name": "Website"}))
            .await
            .status,
        StatusCode::CREATED
    );
    let again = app
        .post("/api/v1/lead-sources", &token, json!({"name": "website"}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.problem_code(), "already_exists");

    let staff = json!({"name": "Dup", "email": "ADMIN@example.com", "password": "long-enough"});
    assert_eq!(
        app.post("/api/v1/staff", &token, staff)
            .await
            .problem_code(),
        "already_exists"
    );
}

#[tokio::test]
async fn contacts_are_managed_and_filtered() {
    let app = TestApp::spawn().await;
    let (_, token) = app
        .staff_with(&[
            "contacts:view",
            "contacts:create",
            "contacts:edit",
            "contacts:delete",
        ])
        .await;
    let acme = app
        .post(
            "/api/v1/contacts",
            &token,
            json!({"name": "Dana", "phone": "0712 345678", "company": "Acme Ltd"}),
        )
        .await;
    // A national number needs a default country, which this app has not got.
    assert_eq!(acme.status, StatusCode::UNPROCESSABLE_ENTITY);
    let acme = app
        .post(
            "/api/v1/contacts",
            &token,
            json!({"name": "Dana", "phone": "+254712345678", "company": "Acme Ltd"}),
        )
        .await;
    assert_eq!(acme.status, StatusCode::CREATED);
    app.post(
        "/api/v1/contacts",
        &token,
        json!({"name": "Eli", "email": "eli@globex.com", "company": "Globex"}),
    )
    .await;

    let by_company = app.get("/api/v1/contacts?company=acme", &token).await;
    assert_eq!(by_company.body["items"].as_array().unwrap().len(), 1);
    let by_text = app.get("/api/v1/contacts?q=globex", &token).await;
    assert_eq!(by_text.body["items"][0]["name"], "Eli");
    let by_phone = app
        .get("/api/v1/contacts?phone=%2B254%20712%20345%20678", &token)
        .await;
    assert_eq!(by_phone.body["items"][0]["name"], "Dana");

    let contact = id(&acme);
    let updated = app
        .patch(
            &format!("/api/v1/contacts/{contact}"),
            &token,
            json!({"company": null, "phone": "+254 733 000 111"}),
        )
        .await;
    assert_eq!(updated.body["company"], Value::Null);
    assert_eq!(updated.body["phone_normalized"], "254733000111");
    assert_eq!(
        app.delete(&format!("/api/v1/contacts/{contact}"), &token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/v1/contacts/{contact}"), &token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_default_country_makes_national_numbers_work() {
    let app = TestApp::spawn_with(&[("WACRM_DEFAULT_COUNTRY", "KE")]).await;
    let token = app.admin_token().await;
    let contact = app
        .post(
            "/api/v1/contacts",
            &token,
            json!({"name": "Dana", "phone": "0712 345678"}),
        )
        .await;
    assert_eq!(contact.status, StatusCode::CREATED);
    assert_eq!(contact.body["phone_normalized"], "254712345678");
}
