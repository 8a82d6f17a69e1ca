//! A webhook body from any provider, then the pure rules the worker applies to what it
//! parsed: the sender's phone, its number variants, the service window and the stored
//! JSON. Nothing here may panic, whatever the body: a panic in the worker stalls a
//! whole batch of webhooks.
#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use wacrm_domain::inbound::InboundEvent;
use wacrm_domain::matching::phone_variants;
use wacrm_domain::{NormalizedPhone, Provider, session};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let provider = Provider::ALL[usize::from(selector) % Provider::ALL.len()];
    let Some(received_at) = DateTime::from_timestamp(1_780_000_000, 0) else {
        return;
    };
    let Ok(events) = wacrm_providers::parse(provider, body, received_at) else {
        return;
    };
    for event in &events {
        if let InboundEvent::Message(message) = event {
            if let Some(Ok(phone)) = message
                .from
                .phone
                .as_deref()
                .map(|phone| NormalizedPhone::parse(phone, None))
            {
                let _ = phone_variants(phone.as_str());
            }
            let _ = session::expiry_after_inbound(None, message.sent_at);
        }
        let _ = serde_json::to_string(event);
    }
});
