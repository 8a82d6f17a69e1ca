//! Bulk campaigns end to end: a campaign is written through the API, started,
//! and its runs are sent by the real job runner (in the background, polling
//! fast) through the outbox to a fake Graph API that records every send. Time
//! is the app's clock, moved forward by the tests for schedules, quiet hours
//! and budgets.

mod conversations_first;
mod exactly_once;
mod lifecycle;
mod pacing;
mod provider_errors;
mod reports;
mod sending;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::fake_provider::FakeProvider;
use crate::harness::{TestApp, eventually};
use crate::inbound::Inbox;
use crate::outbound::{WABA_ID, messages_path, meta_outbox};

pub const TEMPLATE: &str = "december_promo";

/// A Meta connection whose fake Graph API lists one approved template of
/// `category` with `body`, and accepts every send under an id of its own.
pub struct Campaigns {
    pub inbox: Inbox,
    pub meta: FakeProvider,
}

/// Meta's template list entry (Graph API `GET /{waba}/message_templates`).
pub fn template(name: &str, status: &str, category: &str, body: &str) -> Value {
    template_of(
        name,
        status,
        category,
        json!([{"type": "BODY", "text": body}]),
    )
}

/// The same with its `components` as given.
pub fn template_of(name: &str, status: &str, category: &str, components: Value) -> Value {
    json!({"name": name, "language": "en_US", "status": status, "category": category, "id": format!("{name}-id"),
           "components": components})
}

impl Campaigns {
    pub async fn new(category: &str, body: &str) -> Self {
        Self::with(meta_outbox().await, category, body).await
    }

    async fn with((inbox, meta): (Inbox, FakeProvider), category: &str, body: &str) -> Self {
        let campaigns = Self { inbox, meta };
        campaigns.sync_template("APPROVED", category, body).await;
        // Meta's answer to a send ("Send message" reference, 200 response).
        campaigns
            .meta
            .script_json_each("POST", &messages_path(), 200, |n| {
                json!({"messaging_product": "whatsapp", "contacts": [{"input": "x", "wa_id": "x"}],
                   "messages": [{"id": format!("wamid.CAMPAIGN{n}")}]})
            });
        campaigns
    }

    /// Syncs the template with `status` from the fake Graph API, which lists
    /// it so from now on (the workers' hourly sync also asks).
    pub async fn sync_template(&self, status: &str, category: &str, body: &str) {
        self.sync_listed(template(TEMPLATE, status, category, body))
            .await;
    }

    /// Syncs the template as `listed` (a [`template_of`] entry).
    pub async fn sync_listed(&self, listed: Value) {
        let listed = json!({"data": [listed],
                            "paging": {"cursors": {"before": "A", "after": "END"}}});
        self.meta.script_json_each(
            "GET",
            &format!("/v25.0/{WABA_ID}/message_templates"),
            200,
            move |_| listed.clone(),
        );
        let sync = self
            .inbox
            .app
            .post("/api/v1/templates/sync", &self.inbox.admin, json!({}))
            .await;
        assert_eq!(sync.status, StatusCode::ACCEPTED, "{}", sync.body);
        self.inbox.app.run_jobs().await;
    }

    pub fn app(&self) -> &TestApp {
        &self.inbox.app
    }

    pub fn admin(&self) -> &str {
        &self.inbox.admin
    }

    /// A group of WhatsApp contacts `(name, phone, custom_fields)`; its id.
    pub async fn group(&self, people: &[(&str, &str, Value)]) -> String {
        let mut ids = Vec::new();
        for (name, phone, custom_fields) in people {
            let name = if name.is_empty() {
                Value::Null
            } else {
                json!(name)
            };
            let created = self
                .app()
                .post(
                    "/api/v1/whatsapp-contacts",
                    self.admin(),
                    json!({"name": name, "phone": phone, "custom_fields": custom_fields}),
                )
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
            ids.push(created.body["id"].as_str().unwrap().to_owned());
        }
        let group = self
            .app()
            .post(
                "/api/v1/whatsapp-groups",
                self.admin(),
                json!({"name": format!("group {}", uuid::Uuid::now_v7())}),
            )
            .await;
        assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
        let group = group.body["id"].as_str().unwrap().to_owned();
        let added = self
            .app()
            .post(
                &format!("/api/v1/whatsapp-groups/{group}/members"),
                self.admin(),
                json!({"contact_ids": ids}),
            )
            .await;
        assert!(added.status.is_success(), "{}", added.body);
        group
    }

    /// Creates a campaign to `group` with the two-parameter body mapping and
    /// `schedule`, plus `extra` fields; its id.
    pub async fn create(&self, group: &str, schedule: Value, extra: Value) -> String {
        let mut body = json!({
            "name": "December promo",
            "audience": {"whatsapp_groups": [group]},
            "number_id": self.inbox.number_id,
            "template": {"name": TEMPLATE, "language": "en_US"},
            "parameters": {"body": [{"value": "{{name}}", "fallback": "there"}, {"value": "{{custom_fields.code}}"}]},
            "schedule": schedule,
        });
        for (key, value) in extra.as_object().into_iter().flatten() {
            body[key] = value.clone();
        }
        let created = self
            .app()
            .post("/api/v1/campaigns", self.admin(), body)
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(created.body["status"], "draft");
        created.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn act(&self, campaign: &str, action: &str) -> crate::harness::Answer {
        self.app()
            .post(
                &format!("/api/v1/campaigns/{campaign}/{action}"),
                self.admin(),
                json!({}),
            )
            .await
    }

    pub async fn campaign(&self, campaign: &str) -> Value {
        let answer = self
            .app()
            .get(&format!("/api/v1/campaigns/{campaign}"), self.admin())
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    pub async fn runs(&self, campaign: &str) -> Vec<Value> {
        let answer = self
            .app()
            .get(&format!("/api/v1/campaigns/{campaign}/runs"), self.admin())
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body.as_array().unwrap().clone()
    }

    pub async fn report(&self, run: &str) -> Value {
        let answer = self
            .app()
            .get(
                &format!("/api/v1/campaigns/runs/{run}/report"),
                self.admin(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    /// The run's recipients as `(phone, status, reason)`, sorted by phone.
    pub async fn recipients(&self, run: &str) -> Vec<(String, String, Option<String>)> {
        let answer = self
            .app()
            .get(
                &format!("/api/v1/campaigns/runs/{run}/recipients?limit=200"),
                self.admin(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let mut rows: Vec<_> = answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row["phone"].as_str().unwrap_or_default().to_owned(),
                    row["status"].as_str().unwrap().to_owned(),
                    row["reason"].as_str().map(str::to_owned),
                )
            })
            .collect();
        rows.sort();
        rows
    }

    /// Template sends the fake Graph API received: `to` and the body's
    /// parameter texts.
    pub fn sends(&self) -> Vec<(String, Vec<String>)> {
        self.meta
            .requests_to("POST", &messages_path())
            .iter()
            .map(|request| {
                let body = request.json();
                let params = body["template"]["components"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|component| component["type"] == "body")
                    .flat_map(|component| {
                        component["parameters"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                    })
                    .map(|parameter| parameter["text"].as_str().unwrap_or_default().to_owned())
                    .collect();
                (body["to"].as_str().unwrap_or_default().to_owned(), params)
            })
            .collect()
    }

    /// The wamid the fake Graph API answered the send to `phone` with (the
    /// n-th send is `wamid.CAMPAIGN{n}`, from 1).
    pub fn wamid_of(&self, phone: &str) -> String {
        let n = self.sends().iter().position(|(to, _)| to == phone).unwrap() + 1;
        format!("wamid.CAMPAIGN{n}")
    }

    /// The id of the campaign's first run.
    pub async fn first_run(&self, campaign: &str) -> String {
        self.runs(campaign).await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Runs the workers in the background (polling every 50 ms) until
    /// `done` holds, then stops them.
    pub async fn work_until<F, Fut>(&self, what: &str, done: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let shutdown = wacrm_worker::CancellationToken::new();
        let runner = self.app().runner().poll_interval(Duration::from_millis(50));
        let running = tokio::spawn(runner.run(shutdown.clone()));
        eventually(what, Duration::from_secs(30), done).await;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), running)
            .await
            .expect("the workers stop")
            .expect("the workers ran");
    }

    /// Runs the workers until the campaign's status is `status`.
    pub async fn work_until_status(&self, campaign: &str, status: &str) {
        self.work_until(&format!("the campaign is {status}"), || async {
            self.campaign(campaign).await["status"] == status
        })
        .await;
    }
}

/// A group of `size` WhatsApp contacts, arranged in the database (hundreds
/// through the API would only slow the test).
pub async fn group_of(c: &Campaigns, size: i32) -> String {
    use diesel_async::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Group {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let mut db = c.app().db().await;
    let group: Group = diesel::sql_query(
        "WITH g AS (INSERT INTO whatsapp_groups (id, name) VALUES (gen_random_uuid(), 'everyone') RETURNING id), \
              w AS (INSERT INTO whatsapp_contacts (id, name, phone, phone_normalized, time_zone, custom_fields) \
                    SELECT gen_random_uuid(), 'Customer ' || n, '+2547990' || lpad(n::text, 5, '0'), \
                           '2547990' || lpad(n::text, 5, '0'), 'Africa/Nairobi', jsonb_build_object('code', 'C' || n) \
                    FROM generate_series(1, $1) n RETURNING id), \
              m AS (INSERT INTO whatsapp_group_members (group_id, contact_id) SELECT g.id, w.id FROM g, w) \
         SELECT id FROM g",
    )
    .bind::<diesel::sql_types::Integer, _>(size)
    .get_result(&mut db)
    .await
    .unwrap();
    group.id.to_string()
}

/// Where a campaign's work stands in the database (its runs, recipients and
/// messages by status, the jobs not yet done), for a test that gave up
/// waiting to say why.
pub async fn state_of(c: &Campaigns, campaign: &str) -> String {
    use diesel_async::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct State {
        #[diesel(sql_type = diesel::sql_types::Text)]
        state: String,
    }
    let mut db = c.app().db().await;
    let state: State = diesel::sql_query(
        "SELECT jsonb_pretty(jsonb_build_object( \
           'campaign', (SELECT to_jsonb(c) - 'parameters' - 'schedule' - 'audience' FROM campaigns c WHERE c.id = $1), \
           'runs', (SELECT jsonb_agg(to_jsonb(r)) FROM campaign_runs r WHERE r.campaign_id = $1), \
           'recipients', (SELECT jsonb_object_agg(k, n) FROM (SELECT r.status || '/' || coalesce(m.status, '-') \
                            || CASE WHEN m.send_started_at IS NULL THEN '' ELSE '/started' END AS k, count(*) AS n \
                            FROM campaign_recipients r JOIN campaign_runs u ON u.id = r.run_id \
                            LEFT JOIN messages m ON m.id = r.message_id WHERE u.campaign_id = $1 GROUP BY 1) s), \
           'jobs', (SELECT jsonb_agg(jsonb_build_object('id', id, 'kind', kind, 'status', status, 'attempts', attempts, \
                      'run_at', run_at, 'locked_until', locked_until, 'last_error', last_error, 'payload', payload) ORDER BY id) \
                    FROM (SELECT * FROM jobs WHERE kind <> 'deliver_message' OR status <> 'queued' ORDER BY id LIMIT 50) j), \
           'deliveries_queued', (SELECT count(*) FROM jobs WHERE kind = 'deliver_message' AND status = 'queued'), \
           'sessions', (SELECT jsonb_agg(jsonb_build_object('pid', pid, 'state', state, 'xact_start', xact_start, \
                      'wait', wait_event_type || '/' || wait_event, 'blocked_by', pg_blocking_pids(pid), 'query', left(query, 160))) \
                        FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()), \
           'now', now()))::text AS state",
    )
    .bind::<diesel::sql_types::Uuid, _>(campaign.parse::<uuid::Uuid>().unwrap())
    .get_result(&mut db)
    .await
    .unwrap();
    state.state
}
