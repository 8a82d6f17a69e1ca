//! CSV import of WhatsApp contacts (issue 10, item 3): a user uploads a file
//! with a column mapping, the `import_contacts` job imports it, and the user
//! reads the counts and the rows that failed, by row and column.

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Answer, TestApp};

const BOUNDARY: &str = "wacrm-test-boundary-7d1f";

/// A `multipart/form-data` body (RFC 7578) with the `options` part and,
/// when given, the `file` part.
fn multipart(csv: Option<&[u8]>, options: Option<&str>) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(options) = options {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"options\"\r\n\
                 Content-Type: application/json\r\n\r\n{options}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some(csv) = csv {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"contacts.csv\"\r\n\
                 Content-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(csv);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload_raw(app: &TestApp, token: &str, body: Vec<u8>) -> Answer {
    let response = app
        .client
        .post(app.url("/api/v1/whatsapp-contacts/import"))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    TestApp::answer(response).await
}

async fn upload(app: &TestApp, token: &str, csv: &str, options: Value) -> Answer {
    upload_raw(
        app,
        token,
        multipart(Some(csv.as_bytes()), Some(&options.to_string())),
    )
    .await
}

/// Uploads, runs the jobs, and returns the finished import.
async fn import(app: &TestApp, token: &str, csv: &str, options: Value) -> Value {
    let accepted = upload(app, token, csv, options).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_eq!(accepted.body["status"], "queued");
    app.run_jobs().await;
    let id = accepted.body["id"].as_str().unwrap();
    let import = app
        .get(&format!("/api/v1/whatsapp-contacts/import/{id}"), token)
        .await;
    assert_eq!(import.status, StatusCode::OK, "{}", import.body);
    import.body
}

fn counts(import: &Value) -> Value {
    json!({
        "rows_done": import["rows_done"], "created": import["created"],
        "updated": import["updated"], "skipped": import["skipped"],
        "duplicates": import["duplicates"], "failed": import["failed"],
    })
}

/// Every error of the import, following the cursor `limit` at a time.
async fn errors(app: &TestApp, token: &str, import: &Value, limit: u32) -> Vec<Value> {
    let id = import["id"].as_str().unwrap();
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/whatsapp-contacts/import/{id}/errors?limit={limit}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = app.get(&path, token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        all.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
}

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct StoredContact {
    #[diesel(sql_type = Text)]
    phone: String,
    #[diesel(sql_type = Text)]
    phone_normalized: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = Text)]
    time_zone: String,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    labels: Vec<String>,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    custom_fields: Value,
}

/// The `n` that `sql` selects.
async fn count(app: &TestApp, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let found: Count = diesel::sql_query(sql)
        .get_result(&mut app.db().await)
        .await
        .unwrap();
    found.n
}

async fn stored(app: &TestApp) -> Vec<StoredContact> {
    diesel::sql_query(
        "SELECT phone, phone_normalized, name, time_zone, labels, custom_fields \
         FROM whatsapp_contacts ORDER BY phone_normalized",
    )
    .load(&mut app.db().await)
    .await
    .unwrap()
}

/// Bad rows, duplicates in three spellings of one Kenyan number, quoting as
/// in RFC 4180 §2 (a quoted field with a comma; `""` inside quotes is one
/// quote, as in the RFC's `"aaa","b""bb","ccc"`).
const MIXED: &str = "Mobile,Full name,Tags,Tier,TZ\r\n\
+254 712 345 678,\"Otieno, Jane\",vip;gold,\"b\"\"bb\",\r\n\
0712345678,Jane O.,new,,\r\n\
254712345678,,,,\r\n\
not-a-phone,Bad,,,\r\n\
+254 733 000 111,Tz Bad,,,Mars/Base\r\n\
+1 415 555 0100,Sam,,,America/Los_Angeles\r\n\
+254 700 000 001,Only,,,\r\n";

fn mixed_options() -> Value {
    json!({
        "mapping": {"Mobile": "phone", "Full name": "name", "Tags": "labels",
                    "Tier": "custom_fields.tier", "TZ": "time_zone"},
        "default_country": "KE",
        "on_duplicate": "update"
    })
}

#[tokio::test]
async fn a_csv_imports_the_rows_it_should_and_reports_the_others_by_row_and_column() {
    let app = TestApp::spawn().await;
    let (_, token) = app
        .staff_with(&["whatsapp_contacts:create", "whatsapp_contacts:view"])
        .await;

    let import = import(&app, &token, MIXED, mixed_options()).await;

    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(
        counts(&import),
        json!({"rows_done": 7, "created": 3, "updated": 0, "skipped": 0, "duplicates": 2, "failed": 2})
    );
    assert_eq!(import["error_count"], 2);
    let listed = errors(&app, &token, &import, 1).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["row"], 5);
    assert_eq!(listed[0]["column"], "Mobile");
    assert_eq!(listed[0]["reason"], "`not-a-phone` is not a phone number");
    assert_eq!(listed[1]["row"], 6);
    assert_eq!(listed[1]["column"], "TZ");
    assert_eq!(listed[1]["reason"], "`Mars/Base` is not an IANA time zone");

    let contacts = stored(&app).await;
    assert_eq!(
        contacts
            .iter()
            .map(|c| c.phone_normalized.as_str())
            .collect::<Vec<_>>(),
        ["14155550100", "254700000001", "254712345678"]
    );
    // The three spellings are one contact: the later rows win where they
    // say something, and add their labels.
    let jane = &contacts[2];
    assert_eq!(jane.phone, "254712345678");
    assert_eq!(jane.name.as_deref(), Some("Jane O."));
    assert_eq!(jane.labels, ["vip", "gold", "new"]);
    assert_eq!(jane.custom_fields, json!({"tier": "b\"bb"}));
    assert_eq!(jane.time_zone, "Africa/Nairobi");
    assert_eq!(contacts[0].time_zone, "America/Los_Angeles");
    // The file and the phones seen are dropped once the import ends.
    let left = count(
        &app,
        "SELECT (SELECT count(*) FROM contact_import_chunks) + \
                (SELECT count(*) FROM contact_import_phones) AS n",
    )
    .await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn skip_keeps_an_existing_contact_and_update_changes_it() {
    let app = TestApp::spawn().await;
    let (_, token) = app
        .staff_with(&["whatsapp_contacts:create", "whatsapp_contacts:view"])
        .await;
    let mapping = json!({"phone": "phone", "name": "name", "labels": "labels"});
    let first = import(
        &app,
        &token,
        "phone,name,labels\n+254712345678,Old,a\n",
        json!({"mapping": mapping}),
    )
    .await;
    assert_eq!(first["created"], 1);

    let csv = "phone,name,labels\n+254712345678,New,b\n+254700000001,Other,\n";
    let skipped = import(
        &app,
        &token,
        csv,
        json!({"mapping": mapping, "on_duplicate": "skip"}),
    )
    .await;
    assert_eq!(
        counts(&skipped),
        json!({"rows_done": 2, "created": 1, "updated": 0, "skipped": 1, "duplicates": 0, "failed": 0})
    );
    let contacts = stored(&app).await;
    assert_eq!(contacts[1].name.as_deref(), Some("Old"));
    assert_eq!(contacts[1].labels, ["a"]);

    let updated = import(
        &app,
        &token,
        csv,
        json!({"mapping": mapping, "on_duplicate": "update"}),
    )
    .await;
    assert_eq!(
        counts(&updated),
        json!({"rows_done": 2, "created": 0, "updated": 2, "skipped": 0, "duplicates": 0, "failed": 0})
    );
    let contacts = stored(&app).await;
    assert_eq!(contacts[1].name.as_deref(), Some("New"));
    assert_eq!(contacts[1].labels, ["a", "b"]);
}

#[tokio::test]
async fn a_dry_run_changes_nothing_but_reports_the_same_counts() {
    let app = TestApp::spawn().await;
    let (_, token) = app
        .staff_with(&["whatsapp_contacts:create", "whatsapp_contacts:view"])
        .await;
    let existing = import(
        &app,
        &token,
        "Mobile\n+254712345678\n",
        json!({"mapping": {"Mobile": "phone"}}),
    )
    .await;
    assert_eq!(existing["created"], 1);
    let before = stored(&app).await;

    let mut options = mixed_options();
    options["dry_run"] = json!(true);
    let dry = import(&app, &token, MIXED, options).await;
    assert_eq!(dry["status"], "completed");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        counts(&dry),
        json!({"rows_done": 7, "created": 2, "updated": 1, "skipped": 0, "duplicates": 2, "failed": 2})
    );
    assert_eq!(errors(&app, &token, &dry, 50).await.len(), 2);
    assert_eq!(stored(&app).await, before, "a dry run writes no contact");

    let real = import(&app, &token, MIXED, mixed_options()).await;
    assert_eq!(counts(&real), counts(&dry));
    assert_eq!(stored(&app).await.len(), 3);
}

#[tokio::test]
async fn rows_join_the_group_and_progress_reaches_the_stream() {
    let app = TestApp::spawn().await;
    let (_, token) = app
        .staff_with(&[
            "whatsapp_contacts:create",
            "whatsapp_contacts:view",
            "whatsapp_chat:view",
        ])
        .await;
    let group = uuid::Uuid::now_v7();
    diesel::sql_query("INSERT INTO whatsapp_groups (id, name) VALUES ($1, 'Nairobi')")
        .bind::<SqlUuid, _>(group)
        .execute(&mut app.db().await)
        .await
        .unwrap();

    let unknown = upload(
        &app,
        &token,
        "phone\n+254712345678\n",
        json!({"mapping": {"phone": "phone"}, "group_id": uuid::Uuid::now_v7()}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.problem_code(), "invalid_reference");

    let response = app
        .client
        .get(app.url("/api/v1/stream"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    app.listening_on(wacrm_persistence::events::CHANNEL).await;

    let import = import(
        &app,
        &token,
        "phone,name\n+254712345678,A\n0712345678,A again\n+254700000001,B\nbad,C\n",
        json!({"mapping": {"phone": "phone", "name": "name"}, "default_country": "KE", "group_id": group}),
    )
    .await;
    assert_eq!(import["created"], 2);

    #[derive(diesel::QueryableByName)]
    struct Members {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        members: i64,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        member_count: i32,
    }
    let members: Members = diesel::sql_query(
        "SELECT (SELECT count(*) FROM whatsapp_group_members WHERE group_id = $1) AS members, \
                (SELECT member_count FROM whatsapp_groups WHERE id = $1) AS member_count",
    )
    .bind::<SqlUuid, _>(group)
    .get_result(&mut app.db().await)
    .await
    .unwrap();
    assert_eq!((members.members, members.member_count), (2, 2));

    let id = import["id"].as_str().unwrap().to_owned();
    let received = crate::harness::read_stream_until(&mut stream, "\"status\":\"completed\"").await;
    let frame = received
        .split("\n\n")
        .find(|frame| frame.contains("\"status\":\"completed\""))
        .unwrap();
    assert!(frame.starts_with("event: import.progress\n"), "{frame}");
    let data: Value = serde_json::from_str(frame.split_once("data: ").unwrap().1.trim()).unwrap();
    assert_eq!(
        data,
        json!({"type": "import.progress", "import_id": id, "rows_done": 4, "created": 2,
               "updated": 0, "skipped": 0, "duplicates": 1, "failed": 1, "status": "completed"})
    );
}

#[tokio::test]
async fn an_import_run_twice_at_once_imports_each_row_once() {
    let app = TestApp::spawn().await;
    let (_, token) = app
        .staff_with(&["whatsapp_contacts:create", "whatsapp_contacts:view"])
        .await;
    // Three batches (1,000 rows each), so the runs meet on the saved cursor.
    let mut csv = String::from("phone\n");
    for n in 0..2_500 {
        csv.push_str(&format!("+2547{n:08}\n"));
    }
    let accepted = upload(&app, &token, &csv, json!({"mapping": {"phone": "phone"}})).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let import_id: uuid::Uuid = accepted.body["id"].as_str().unwrap().parse().unwrap();
    // A second job for the same import, as a retry after a lost lease would be.
    wacrm_worker::enqueue(
        &mut app.db().await,
        &wacrm_worker::jobs::ImportContacts { import_id },
    )
    .await
    .unwrap();
    app.run_jobs().await;

    let import = app
        .get(
            &format!("/api/v1/whatsapp-contacts/import/{import_id}"),
            &token,
        )
        .await
        .body;
    assert_eq!(
        counts(&import),
        json!({"rows_done": 2500, "created": 2500, "updated": 0, "skipped": 0, "duplicates": 0, "failed": 0})
    );
    assert_eq!(stored(&app).await.len(), 2_500);
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_nothing_behind() {
    let app = TestApp::spawn_with(&[("WACRM_IMPORT_MAX_BYTES", "1000")]).await;
    let (_, token) = app
        .staff_with(&["whatsapp_contacts:create", "whatsapp_contacts:view"])
        .await;
    let csv = "Mobile,Name\n+254712345678,A\n";

    let (_, viewer) = app.staff_with(&["whatsapp_contacts:view"]).await;
    let forbidden = upload(&app, &viewer, csv, json!({"mapping": {"Mobile": "phone"}})).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.problem_code(), "permission_denied");
    assert_eq!(forbidden.body["permission"], "whatsapp_contacts:create");
    let (_, creator) = app.staff_with(&["whatsapp_contacts:create"]).await;
    let accepted = upload(&app, &creator, csv, json!({"mapping": {"Mobile": "phone"}})).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap();
    for path in [
        format!("/api/v1/whatsapp-contacts/import/{id}"),
        format!("/api/v1/whatsapp-contacts/import/{id}/errors"),
    ] {
        let unseen = app.get(&path, &creator).await;
        assert_eq!(unseen.status, StatusCode::FORBIDDEN);
        assert_eq!(unseen.body["permission"], "whatsapp_contacts:view");
    }
    app.run_jobs().await;

    let refusals: [(Vec<u8>, &str); 8] = [
        (
            multipart(Some(csv.as_bytes()), Some("{\"mapping\": ")),
            "invalid_options",
        ),
        (
            multipart(
                Some(csv.as_bytes()),
                Some(r#"{"mapping": {"Mobile": "phone"}, "on_duplicate": "merge"}"#),
            ),
            "invalid_options",
        ),
        (
            multipart(
                Some(csv.as_bytes()),
                Some(r#"{"mapping": {"Phone": "phone"}}"#),
            ),
            "unknown_column",
        ),
        (
            multipart(
                Some(csv.as_bytes()),
                Some(r#"{"mapping": {"Name": "name"}}"#),
            ),
            "phone_column_missing",
        ),
        (
            multipart(
                Some(csv.as_bytes()),
                Some(r#"{"mapping": {"Mobile": "phone", "Name": "nickname"}}"#),
            ),
            "invalid_mapping",
        ),
        (
            multipart(None, Some(r#"{"mapping": {"Mobile": "phone"}}"#)),
            "missing_part",
        ),
        (
            multipart(Some(b""), Some(r#"{"mapping": {"Mobile": "phone"}}"#)),
            "invalid_file",
        ),
        (
            multipart(
                Some(csv.as_bytes()),
                Some(r#"{"mapping": {"Mobile": "phone"}, "default_country": "XX"}"#),
            ),
            "validation_failed",
        ),
    ];
    for (body, code) in refusals {
        let answer = upload_raw(&app, &token, body).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{code}: {}",
            answer.body
        );
        assert_eq!(answer.problem_code(), code, "{}", answer.body);
    }
    let unknown = upload(&app, &token, csv, json!({"mapping": {"Phone": "phone"}})).await;
    assert_eq!(unknown.body["errors"][0]["field"], "options.mapping.Phone");

    let large = format!("Mobile\n{}", "+254712345678\n".repeat(100));
    let too_large = upload(
        &app,
        &token,
        &large,
        json!({"mapping": {"Mobile": "phone"}}),
    )
    .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.problem_code(), "payload_too_large");

    let not_multipart = app
        .post(
            "/api/v1/whatsapp-contacts/import",
            &token,
            json!({"mapping": {}}),
        )
        .await;
    assert_eq!(not_multipart.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(not_multipart.problem_code(), "unsupported_media_type");

    // Only the one accepted upload (imported, its file dropped) is kept.
    let left = count(
        &app,
        "SELECT (SELECT count(*) FROM contact_imports) + \
                (SELECT count(*) FROM contact_import_chunks) AS n",
    )
    .await;
    assert_eq!(left, 1, "a refused upload is not kept");
    let missing = app
        .get(
            &format!("/api/v1/whatsapp-contacts/import/{}", uuid::Uuid::now_v7()),
            &token,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
