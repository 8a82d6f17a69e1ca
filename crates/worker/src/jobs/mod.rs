//! The jobs wacrm runs, and the runner that knows them all.

pub(crate) mod activity;
mod deliver_message;
mod dispatch_campaign_run;
mod fetch_media;
mod import_contacts;
mod maintenance;
mod mark_read;
mod process_crm_event;
mod process_webhooks;
mod reply_to_consent;
mod run_bots;
mod send_notification;
mod start_campaign_run;
mod sync_templates;
pub mod webhook_endpoints;

use std::time::Duration;

pub use deliver_message::DeliverMessage;
pub use dispatch_campaign_run::DispatchCampaignRun;
pub use fetch_media::FetchMedia;
pub use import_contacts::{BATCH_ROWS, ImportContacts, ImportProgress};
pub use maintenance::{
    CompactConversationCounts, SweepIdempotencyKeys, SweepWebhookEvents, VacuumQueues, WakeSnoozed,
};
pub use mark_read::MarkRead;
pub use process_crm_event::ProcessCrmEvent;
pub use process_webhooks::ProcessWebhooks;
pub use reply_to_consent::ReplyToConsent;
pub use run_bots::{BotEvent, Inputs, RunBots, conversation_state, inputs};
pub use send_notification::SendNotification;
pub use start_campaign_run::StartCampaignRun;
pub use sync_templates::{SyncAllTemplates, SyncTemplates};
pub use webhook_endpoints::{DispatchWebhooks, SweepWebhookDeliveries};

use crate::Runner;
use crate::context::WorkerContext;

/// How long a provider takes to answer a send, for sizing the deliveries'
/// concurrency: a number sending `rate` messages a second keeps `rate ×
/// latency` sends in flight (Meta answers in 100-300 ms; the margin covers
/// slow moments).
pub const SEND_LATENCY: Duration = Duration::from_millis(500);
/// Bounds of the deliveries' concurrency (sized from the rates).
pub const MIN_DELIVERY_SLOTS: usize = 16;
pub const MAX_DELIVERY_SLOTS: usize = 4_000;

/// How many deliveries may be in flight at once: `context.delivery_slots`
/// when configured, else the numbers' rates × [`SEND_LATENCY`] (16 to 4,000),
/// so every number can send at its full rate. A delivery holds no database
/// connection while it waits for its number's pace or for the provider, so a
/// slot is only a task.
pub async fn delivery_slots(context: &WorkerContext) -> usize {
    if let Some(slots) = context.delivery_slots {
        return slots.clamp(1, MAX_DELIVERY_SLOTS);
    }
    let total = match context.pool.get().await {
        Ok(mut conn) => wacrm_persistence::numbers::total_rate(&mut conn)
            .await
            .unwrap_or(0),
        Err(_) => 0,
    };
    let in_flight = u128::try_from(total).unwrap_or(0) * SEND_LATENCY.as_millis() / 1000;
    usize::try_from(in_flight)
        .unwrap_or(MAX_DELIVERY_SLOTS)
        .clamp(MIN_DELIVERY_SLOTS, MAX_DELIVERY_SLOTS)
}

/// The runner of the deliveries alone, with `slots` slots: sends never wait
/// for a slot behind other jobs, nor other jobs behind sends. Keep it sized
/// with [`keep_delivery_slots_sized`].
pub fn delivery_runner(context: WorkerContext, slots: usize) -> Runner<WorkerContext> {
    tracing::info!(slots, "delivery runner sized");
    Runner::new(context.pool.clone(), context.clone())
        .clock(context.clock)
        .register::<DeliverMessage>()
        .only_registered()
        .concurrency(slots)
        .poll_interval(Duration::from_secs(5))
}

/// How often the deliveries' slots follow the numbers' rates (one SUM over
/// the numbers).
const RESIZE_EVERY: Duration = Duration::from_secs(2);

/// Resizes the deliveries' `slots` to [`delivery_slots`] every 2 s until
/// `shutdown`: a number added or sped up gets its slots without a restart.
pub async fn keep_delivery_slots_sized(
    context: WorkerContext,
    slots: crate::Slots,
    shutdown: crate::CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RESIZE_EVERY) => {}
        }
        let wanted = delivery_slots(&context).await;
        if wanted != slots.size() {
            tracing::info!(from = slots.size(), to = wanted, "delivery slots resized");
            slots.resize(wanted);
        }
    }
}

/// A runner with every job registered and the periodic ones scheduled.
pub fn runner(context: WorkerContext) -> Runner<WorkerContext> {
    Runner::new(context.pool.clone(), context.clone())
        .clock(context.clock)
        // Database-only jobs hold their claim in their own transaction.
        .register_in_transaction::<ProcessWebhooks>()
        .register_in_transaction::<ReplyToConsent>()
        .register_in_transaction::<ProcessCrmEvent>()
        .register_in_transaction::<SendNotification>()
        .register::<FetchMedia>()
        .register::<DeliverMessage>()
        .register::<MarkRead>()
        .register::<SyncTemplates>()
        .register::<RunBots>()
        .register::<ImportContacts>()
        .register::<DispatchWebhooks>()
        .register::<StartCampaignRun>()
        .register::<DispatchCampaignRun>()
        .every::<SyncAllTemplates>(Duration::from_secs(3600), || SyncAllTemplates)
        .every_in_transaction::<WakeSnoozed>(Duration::from_secs(30), || WakeSnoozed)
        .every::<SweepIdempotencyKeys>(Duration::from_secs(3600), || SweepIdempotencyKeys)
        .every::<SweepWebhookEvents>(Duration::from_secs(3600), || SweepWebhookEvents)
        .every::<CompactConversationCounts>(Duration::from_secs(30), || CompactConversationCounts)
        .every::<DispatchWebhooks>(Duration::from_secs(30), || DispatchWebhooks {
            periodic: true,
        })
        .every::<SweepWebhookDeliveries>(Duration::from_secs(3600), || SweepWebhookDeliveries)
        .every::<VacuumQueues>(Duration::from_secs(5), || VacuumQueues)
        .concurrency(16)
        .poll_interval(Duration::from_secs(5))
}
