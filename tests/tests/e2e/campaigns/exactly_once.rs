//! Exactly once per recipient: two worker nodes send one campaign, and one
//! of them dies mid-run (its tasks stop where they are, its connections
//! close). Every recipient is reached once; none twice, none lost. A send
//! cut off between the provider's call and our record of its answer is
//! `delivery_unknown` for a person to check, never sent again.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::{Campaigns, group_of, state_of};

const BODY: &str = "Hi {{1}}, use {{2}}";
const RECIPIENTS: usize = 2_000;

#[tokio::test]
async fn two_nodes_and_a_crash_reach_every_recipient_exactly_once() {
    let c = Campaigns::new("MARKETING", BODY).await;
    let number = &c.inbox.number_id;
    let paced = c
        .app()
        .patch(
            &format!("/api/v1/numbers/{number}"),
            c.admin(),
            json!({"messages_per_second": 400}),
        )
        .await;
    assert_eq!(paced.status, StatusCode::OK, "{}", paced.body);
    let group = group_of(&c, i32::try_from(RECIPIENTS).unwrap()).await;
    let campaign = c
        .create(&group, json!({"type": "onetime"}), json!({}))
        .await;
    assert_eq!(c.act(&campaign, "start").await.status, StatusCode::OK);

    let node = |shutdown: &wacrm_worker::CancellationToken| {
        let (runner, connections) = c.app().worker_node();
        let runner = runner
            .lease(Duration::from_secs(2))
            .heartbeat(Duration::from_millis(400))
            .poll_interval(Duration::from_millis(50));
        (tokio::spawn(runner.run(shutdown.clone())), connections)
    };
    let (doomed, doomed_connections) = node(&wacrm_worker::CancellationToken::new());
    let shutdown = wacrm_worker::CancellationToken::new();
    let (survivor, _connections) = node(&shutdown);

    // Generous limits: alone this test takes about 25 s, but the whole suite
    // runs at once on two cores in CI.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while c.sends().len() < RECIPIENTS / 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for a fifth to be sent: {}",
            state_of(&c, &campaign).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // kill -9: no word to anyone, its connections gone.
    doomed.abort();
    let _ = doomed.await;
    doomed_connections.kill().await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while c.campaign(&campaign).await["status"] != "completed" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for the campaign to complete: {}",
            state_of(&c, &campaign).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    survivor.await.unwrap();

    let mut sends: HashMap<String, usize> = HashMap::new();
    for (to, _) in c.sends() {
        *sends.entry(to).or_default() += 1;
    }
    let twice: Vec<_> = sends.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");

    let run = c.first_run(&campaign).await;
    let report = c.report(&run).await;
    assert_eq!(report["audience"], RECIPIENTS, "{report}");
    assert_eq!(report["pending"], 0, "{report}");
    // Every recipient was sent to, or is flagged for a person to check.
    let unknown = report["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|reason| reason["reason"] == "delivery_unknown")
        .map(|reason| reason["count"].as_u64().unwrap())
        .sum::<u64>();
    let sent = report["sent"].as_u64().unwrap();
    assert_eq!(sent + unknown, RECIPIENTS as u64, "{report}");
    assert_eq!(report["failed"].as_u64().unwrap(), unknown, "{report}");
    assert!(
        sends.len() as u64 >= sent,
        "{} phones reached, {sent} recorded sent",
        sends.len()
    );
}
