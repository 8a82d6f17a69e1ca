//! Conversations come first: an agent's reply on a number that is sending a
//! campaign goes out within about a second of the number's traffic, not
//! behind the campaign's waiting recipients (10,000 of them, as the issue
//! asks: at 10/s that backlog is over a quarter of an hour).

use reqwest::StatusCode;
use serde_json::json;

use super::{Campaigns, group_of};
use crate::outbound::{CUSTOMER, customer_writes, messages_path, send};

const BODY: &str = "Hi {{1}}, use {{2}}";
const RATE: i64 = 10;
const RECIPIENTS: i32 = 10_000;

#[tokio::test]
async fn an_agents_reply_overtakes_a_running_campaigns_backlog() {
    let c = Campaigns::new("MARKETING", BODY).await;
    let number = &c.inbox.number_id;
    let paced = c
        .app()
        .patch(
            &format!("/api/v1/numbers/{number}"),
            c.admin(),
            json!({"messages_per_second": RATE}),
        )
        .await;
    assert_eq!(paced.status, StatusCode::OK, "{}", paced.body);
    let group = group_of(&c, RECIPIENTS).await;
    let conversation = customer_writes(&c.inbox, "wamid.HELLO", 5).await;
    let campaign = c
        .create(&group, json!({"type": "onetime"}), json!({}))
        .await;
    assert_eq!(c.act(&campaign, "start").await.status, StatusCode::OK);

    let shutdown = wacrm_worker::CancellationToken::new();
    let runner = c
        .app()
        .runner()
        .poll_interval(std::time::Duration::from_millis(50));
    let running = tokio::spawn(runner.run(shutdown.clone()));
    crate::harness::eventually(
        "the campaign is sending",
        std::time::Duration::from_secs(30),
        || async { c.sends().len() >= 20 },
    )
    .await;

    let before = c.sends().len();
    let reply = send(
        &c.inbox,
        &conversation,
        json!({"type": "text", "text": "On it!"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    crate::harness::eventually(
        "the reply is sent",
        std::time::Duration::from_secs(30),
        || async {
            c.meta
                .requests_to("POST", &messages_path())
                .iter()
                .any(|request| request.json()["to"] == CUSTOMER)
        },
    )
    .await;
    let requests = c.meta.requests_to("POST", &messages_path());
    let reply_at = requests
        .iter()
        .position(|request| request.json()["to"] == CUSTOMER)
        .unwrap();
    // At most a second of the number's traffic went out between the reply
    // being queued and the reply itself, while most of the campaign waited.
    let campaign_sends_ahead = i64::try_from(reply_at - before).unwrap();
    assert!(
        campaign_sends_ahead <= RATE,
        "{campaign_sends_ahead} campaign messages went ahead of the reply"
    );
    // And the campaign's backlog was really there: nearly all of it still
    // waited when the reply reached the provider.
    let waiting = usize::try_from(RECIPIENTS).unwrap() - reply_at;
    assert!(
        waiting >= 9_900,
        "only {waiting} campaign messages were still waiting"
    );

    assert_eq!(c.act(&campaign, "cancel").await.status, StatusCode::OK);
    shutdown.cancel();
    running.await.unwrap();
}
