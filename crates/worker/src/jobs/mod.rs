//! The jobs wacrm runs, and the runner that knows them all.

mod activity;
mod deliver_message;
mod fetch_media;
mod import_contacts;
mod maintenance;
mod mark_read;
mod process_webhooks;
mod reply_to_consent;
mod run_bots;
mod sync_templates;
pub mod webhook_endpoints;

use std::time::Duration;

pub use deliver_message::DeliverMessage;
pub use fetch_media::FetchMedia;
pub use import_contacts::{BATCH_ROWS, ImportContacts, ImportProgress};
pub use maintenance::{
    CompactConversationCounts, SweepIdempotencyKeys, SweepWebhookEvents, WakeSnoozed,
};
pub use mark_read::MarkRead;
pub use process_webhooks::ProcessWebhooks;
pub use reply_to_consent::ReplyToConsent;
pub use run_bots::{Inputs, RunBots, conversation_state, inputs};
pub use sync_templates::{SyncAllTemplates, SyncTemplates};
pub use webhook_endpoints::{DispatchWebhooks, SweepWebhookDeliveries};

use crate::Runner;
use crate::context::WorkerContext;

/// A runner with every job registered and the periodic ones scheduled.
pub fn runner(context: WorkerContext) -> Runner<WorkerContext> {
    Runner::new(context.pool.clone(), context.clone())
        .clock(context.clock)
        // Database-only jobs hold their claim in their own transaction.
        .register_in_transaction::<ProcessWebhooks>()
        .register_in_transaction::<ReplyToConsent>()
        .register::<FetchMedia>()
        .register::<DeliverMessage>()
        .register::<MarkRead>()
        .register::<SyncTemplates>()
        .register::<RunBots>()
        .register::<ImportContacts>()
        .register::<DispatchWebhooks>()
        .every::<SyncAllTemplates>(Duration::from_secs(3600), || SyncAllTemplates)
        .every_in_transaction::<WakeSnoozed>(Duration::from_secs(30), || WakeSnoozed)
        .every::<SweepIdempotencyKeys>(Duration::from_secs(3600), || SweepIdempotencyKeys)
        .every::<SweepWebhookEvents>(Duration::from_secs(3600), || SweepWebhookEvents)
        .every::<CompactConversationCounts>(Duration::from_secs(30), || CompactConversationCounts)
        .every::<DispatchWebhooks>(Duration::from_secs(30), || DispatchWebhooks {
            periodic: true,
        })
        .every::<SweepWebhookDeliveries>(Duration::from_secs(3600), || SweepWebhookDeliveries)
        .concurrency(16)
        .poll_interval(Duration::from_secs(5))
}
