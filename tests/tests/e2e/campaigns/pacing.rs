//! A number's rate holds across worker nodes: each node's pacer reserves its
//! send slots, a short run at a time, from the one row per number the nodes
//! share, so two nodes sending for one number together stay within its
//! `messages_per_second` (each pacing alone, they sent at twice the rate).

use std::time::Duration;

use tokio::time::Instant;
use wacrm_worker::pacer::Pacer;

use crate::outbound::meta_outbox;

const RATE: i32 = 50;
const SENDS_PER_NODE: usize = 100;

/// `count` slots of `number`, one after another, as a node's deliveries take
/// them (without sleeping until each).
async fn slots(pacer: &Pacer, number: uuid::Uuid, count: usize) -> Vec<Instant> {
    let mut slots = Vec::with_capacity(count);
    for _ in 0..count {
        slots.push(pacer.take(number, RATE).await);
    }
    slots
}

#[tokio::test]
async fn two_nodes_sending_for_one_number_keep_its_rate_together() {
    let (inbox, _meta) = meta_outbox().await;
    let number: uuid::Uuid = inbox.number_id.parse().unwrap();
    let (first, second) = (Pacer::new(inbox.app.pool(2)), Pacer::new(inbox.app.pool(2)));
    let (mine, theirs) = tokio::join!(
        slots(&first, number, SENDS_PER_NODE),
        slots(&second, number, SENDS_PER_NODE)
    );
    let mut all: Vec<Instant> = mine.into_iter().chain(theirs).collect();
    all.sort();

    // In no second do the two nodes' sends together pass the rate.
    for (i, start) in all.iter().enumerate() {
        let within = all[i..]
            .iter()
            .take_while(|slot| **slot < *start + Duration::from_secs(1))
            .count();
        let rate = usize::try_from(RATE).unwrap();
        assert!(
            within <= rate,
            "{within} sends within a second from slot {i}"
        );
    }
    // So 200 sends take the time the rate gives them (199 intervals at 98 %
    // of 50/s: 4.06 s), not half of it.
    let span = *all.last().unwrap() - all[0];
    assert!(span >= Duration::from_millis(3_950), "{span:?}");
}
