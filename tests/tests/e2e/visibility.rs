//! One inbox visibility policy: with `assigned_or_unassigned`, an agent (and a
//! non-admin API key) meets a colleague's conversation nowhere: not by phone,
//! not through quick replies, tickets, lead notes, the activity log or the
//! event stream. Assigning the conversation to them opens every path again.

use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::fake_provider::FakeProvider;
use crate::harness::{Answer, TestApp};
use crate::inbound::Inbox;
use crate::outbound::{
    CUSTOMER, accepted, customer_says, delivered, messages_path, meta_outbox, restrict_agents, send,
};

/// The agent's permissions: everything that touches a conversation, no `admin`.
const AGENT: &[&str] = &[
    "whatsapp_chat:view",
    "tickets:view",
    "tickets:create",
    "tickets:edit",
    "tickets:delete",
    "quickreplies:view",
    "leads:view",
    "whatsapp_log_activity:view",
];

async fn assign(inbox: &Inbox, conversation: &str, staff: &str) {
    let assigned = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/assign"),
            &inbox.admin,
            json!({"staff_id": staff}),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
}

fn ids(answer: &Value) -> Vec<String> {
    answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A lead writes in; the admin opens a ticket from the chat and answers it.
struct Scene {
    inbox: Inbox,
    meta: FakeProvider,
    conversation: String,
    lead: String,
    ticket: String,
    reply: String,
    quick_reply: String,
}

impl Scene {
    /// `token` renders the quick reply for the conversation.
    async fn render(&self, token: &str) -> Answer {
        self.inbox
            .app
            .post(
                &format!("/api/v1/quick-replies/{}/render", self.quick_reply),
                token,
                json!({"conversation_id": self.conversation}),
            )
            .await
    }

    /// `token` sends a text to the customer by phone number.
    async fn send_by_phone(&self, token: &str) -> Answer {
        self.inbox
            .app
            .post(
                "/api/v1/messages",
                token,
                json!({"to_phone": format!("+{CUSTOMER}"), "type": "text", "text": "hi"}),
            )
            .await
    }
}

async fn scene() -> Scene {
    let (inbox, meta) = meta_outbox().await;
    let lead = inbox
        .app
        .post(
            "/api/v1/leads",
            &inbox.admin,
            json!({"name": "Wanjiru", "phone": format!("+{CUSTOMER}")}),
        )
        .await;
    assert_eq!(lead.status, StatusCode::CREATED, "{}", lead.body);
    let conversation = customer_says(&inbox, "wamid.in", "my card number is 4242").await;
    let ticket = inbox
        .app
        .post(
            &format!("/api/v1/conversations/{conversation}/tickets"),
            &inbox.admin,
            json!({"subject": "Card question"}),
        )
        .await;
    assert_eq!(ticket.status, StatusCode::CREATED, "{}", ticket.body);
    meta.script_json("POST", &messages_path(), 200, accepted("wamid.out"));
    let queued = send(
        &inbox,
        &conversation,
        json!({"type": "text", "text": "we will call you"}),
    )
    .await;
    let reply = queued.body["id"].as_str().unwrap().to_owned();
    assert_eq!(delivered(&inbox, &reply).await["status"], "sent");
    let quick_reply = inbox
        .app
        .post(
            "/api/v1/quick-replies",
            &inbox.admin,
            json!({"shortcut": "hi", "body": "Hello {{name}}"}),
        )
        .await;
    assert_eq!(
        quick_reply.status,
        StatusCode::CREATED,
        "{}",
        quick_reply.body
    );
    Scene {
        conversation,
        lead: lead.body["id"].as_str().unwrap().to_owned(),
        ticket: ticket.body["id"].as_str().unwrap().to_owned(),
        reply,
        quick_reply: quick_reply.body["id"].as_str().unwrap().to_owned(),
        inbox,
        meta,
    }
}

#[tokio::test]
async fn a_colleagues_conversation_is_out_of_reach_on_every_path() {
    let scene = scene().await;
    let (inbox, conversation) = (&scene.inbox, scene.conversation.as_str());
    let app = &inbox.app;
    let (agent_id, agent) = app.staff_with(AGENT).await;
    let (colleague, _) = app.staff_with(&["whatsapp_chat:view"]).await;
    assign(inbox, conversation, &colleague).await;
    restrict_agents(inbox).await;

    // Sending by phone reaches the colleague's conversation: refused, nothing sent.
    let before = scene.meta.requests_to("POST", &messages_path()).len();
    let by_phone = scene.send_by_phone(&agent).await;
    assert_eq!(by_phone.status, StatusCode::FORBIDDEN, "{}", by_phone.body);
    assert_eq!(by_phone.problem_code(), "conversation_not_visible");
    app.run_jobs().await;
    assert_eq!(
        scene.meta.requests_to("POST", &messages_path()).len(),
        before
    );

    // Quick replies do not render the customer's name for it.
    let rendered = scene.render(&agent).await;
    assert_eq!(rendered.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rendered.problem_code(), "invalid_reference");

    // Tickets opened from it are not listed, read, changed or deleted; none
    // can be opened from it.
    let ticket = format!("/api/v1/tickets/{}", scene.ticket);
    assert_eq!(
        ids(&app.get("/api/v1/tickets", &agent).await.body),
        Vec::<String>::new()
    );
    let by_conversation = app
        .get(
            &format!("/api/v1/tickets?conversation_id={conversation}"),
            &agent,
        )
        .await;
    assert_eq!(ids(&by_conversation.body), Vec::<String>::new());
    assert_eq!(app.get(&ticket, &agent).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.patch(&ticket, &agent, json!({"status": "closed"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&ticket, &agent).await.status,
        StatusCode::NOT_FOUND
    );
    let opened = app
        .post(
            &format!("/api/v1/conversations/{conversation}/tickets"),
            &agent,
            json!({"subject": "mine now"}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::NOT_FOUND);
    let linked = app
        .post(
            "/api/v1/tickets",
            &agent,
            json!({"subject": "mine now", "conversation_id": conversation}),
        )
        .await;
    assert_eq!(linked.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(linked.problem_code(), "invalid_reference");

    // The lead's notes copied from the chat are left out; the admin sees them.
    let notes = format!("/api/v1/leads/{}/notes", scene.lead);
    let copied = app.get(&notes, &inbox.admin).await;
    assert!(copied.body.to_string().contains("4242"), "{}", copied.body);
    let agents_notes = app.get(&notes, &agent).await;
    assert_eq!(agents_notes.status, StatusCode::OK);
    assert!(
        !agents_notes.body.to_string().contains("4242"),
        "{}",
        agents_notes.body
    );

    // The activity log keeps the call but not the message's text.
    let log = format!("/api/v1/activity-log?message_id={}", scene.reply);
    let admins_log = app.get(&log, &inbox.admin).await;
    assert!(admins_log.body.to_string().contains("we will call you"));
    let agents_log = app.get(&log, &agent).await;
    assert_eq!(agents_log.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(agents_log.body["items"][0]["bodies_hidden"], true);
    assert!(!agents_log.body.to_string().contains("we will call you"));

    // Assigned to the agent, every path opens.
    assign(inbox, conversation, &agent_id).await;
    assert_eq!(app.get(&ticket, &agent).await.status, StatusCode::OK);
    assert_eq!(
        ids(&app.get("/api/v1/tickets", &agent).await.body),
        vec![scene.ticket.clone()]
    );
    assert!(
        app.get(&notes, &agent)
            .await
            .body
            .to_string()
            .contains("4242")
    );
    assert_eq!(
        app.get(&log, &agent).await.body["items"][0]["bodies_hidden"],
        false
    );
    let rendered = scene.render(&agent).await;
    assert_eq!(rendered.body["text"], "Hello Wanjiru");
    scene
        .meta
        .script_json("POST", &messages_path(), 200, accepted("wamid.out2"));
    let by_phone = scene.send_by_phone(&agent).await;
    assert_eq!(by_phone.status, StatusCode::ACCEPTED, "{}", by_phone.body);
}

#[tokio::test]
async fn an_api_key_sees_what_its_creator_sees() {
    let scene = scene().await;
    let (inbox, conversation) = (&scene.inbox, scene.conversation.as_str());
    let app = &inbox.app;
    let (colleague, _) = app.staff_with(&["whatsapp_chat:view"]).await;
    assign(inbox, conversation, &colleague).await;
    restrict_agents(inbox).await;
    let key = |permissions: Value| async move {
        let created = app
            .post(
                "/api/v1/api-keys",
                &inbox.admin,
                json!({"name": "integration", "permissions": permissions}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        created.body["secret"].as_str().unwrap().to_owned()
    };
    let get = |secret: String, path: String| async move {
        let response = app
            .client
            .get(app.url(&path))
            .header("x-api-key", secret)
            .send()
            .await
            .unwrap();
        TestApp::answer(response).await
    };
    // A key without `admin` acts for its creator (the admin here, to whom the
    // conversation is not assigned): restricted like an agent.
    let agent_key = key(json!(["whatsapp_chat:view", "tickets:view"])).await;
    let listed = get(agent_key.clone(), "/api/v1/conversations".into()).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(ids(&listed.body), Vec::<String>::new());
    let one = get(
        agent_key.clone(),
        format!("/api/v1/conversations/{conversation}"),
    )
    .await;
    assert_eq!(one.status, StatusCode::NOT_FOUND);
    let ticket = get(agent_key, format!("/api/v1/tickets/{}", scene.ticket)).await;
    assert_eq!(ticket.status, StatusCode::NOT_FOUND);
    // An admin key sees everything.
    let admin_key = key(json!(["admin"])).await;
    let listed = get(admin_key, "/api/v1/conversations".into()).await;
    assert_eq!(ids(&listed.body), vec![conversation.to_owned()]);
}

/// Reads `stream` until `wanted` appears; everything read so far, or `None`
/// when the stream ended or `wait` passed first.
async fn read_until<B: AsRef<[u8]>>(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<B>> + Unpin),
    received: &mut String,
    wanted: &str,
    wait: Duration,
) -> bool {
    tokio::time::timeout(wait, async {
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { return false };
            received.push_str(&String::from_utf8_lossy(chunk.as_ref()));
            if received.contains(wanted) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false)
}

#[tokio::test]
async fn the_stream_shows_an_agent_its_conversations_only_and_ends_when_it_is_deactivated() {
    let app = TestApp::spawn_with(&[("WACRM_STREAM_HEARTBEAT_SECS", "1")]).await;
    let (inbox, _meta) = crate::outbound::meta_outbox_on(app).await;
    let theirs = customer_says(&inbox, "wamid.a1", "first").await;
    let (colleague, _) = inbox.app.staff_with(&["whatsapp_chat:view"]).await;
    assign(&inbox, &theirs, &colleague).await;
    restrict_agents(&inbox).await;
    let (agent_id, agent) = inbox.app.staff_with(&["whatsapp_chat:view"]).await;
    let response = inbox
        .app
        .client
        .get(inbox.app.url("/api/v1/stream"))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    let mut received = String::new();

    // An unassigned conversation's message reaches the agent. The node's
    // LISTEN connection may still be starting: write until one arrives.
    let mut mine = None;
    for attempt in 0..20 {
        let conversation = crate::outbound::someone_says(
            &inbox,
            "254700000001",
            &format!("wamid.b{attempt}"),
            "visible",
        )
        .await;
        if read_until(
            &mut stream,
            &mut received,
            &conversation,
            Duration::from_millis(500),
        )
        .await
        {
            mine = Some(conversation);
            break;
        }
    }
    let mine = mine.expect("the agent's stream relays an unassigned conversation's events");

    // The colleague's conversation writes, then the agent's again: events
    // arrive in commit order, so the second one's arrival proves the first
    // was withheld rather than late.
    customer_says(&inbox, "wamid.a2", "second").await;
    received.clear();
    crate::outbound::someone_says(&inbox, "254700000001", "wamid.sentinel", "visible").await;
    assert!(read_until(&mut stream, &mut received, &mine, Duration::from_secs(10)).await);
    assert!(!received.contains(&theirs), "{received}");
    assert!(received.contains("\"assigned_to\""), "{received}");

    // Deactivated, the agent's stream ends at its next heartbeat.
    let deactivated = inbox
        .app
        .patch(
            &format!("/api/v1/staff/{agent_id}"),
            &inbox.admin,
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.body);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the stream of a deactivated agent stays open"
    );
}

#[tokio::test]
async fn the_stream_ends_when_its_access_token_expires() {
    let app = TestApp::spawn().await;
    // The admin's own access token (a real session), re-signed to expire in
    // three seconds (the heartbeat is 15 s: the stream must end at the
    // expiry itself).
    let key = jsonwebtoken::DecodingKey::from_secret(crate::harness::JWT_SECRET.as_bytes());
    let mut validation = jsonwebtoken::Validation::default();
    validation.set_audience(&["wacrm-api"]);
    let mut claims: Value = jsonwebtoken::decode(&app.admin_token().await, &key, &validation)
        .unwrap()
        .claims;
    claims["exp"] = json!(chrono::Utc::now().timestamp() + 3);
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(crate::harness::JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let response = app
        .client
        .get(app.url("/api/v1/stream"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its token");
}
