//! Meta's system messages that change who a customer is: `user_changed_number`
//! (a new phone, and with it a new business-scoped user id) and
//! `user_changed_user_id` (a new business-scoped user id, no phone).
//!
//! Meta's changelog (2026-08-11) says these are how identity changes arrive: on the
//! `messages` field, as `type: "system"` messages whose `system` object carries
//! `wa_id` (the new phone, number changes only), `user_id` (the new id) and
//! `previous_user_id`; `user_id_update` is not a webhook field one can subscribe to
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/changelog/>,
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/system/>).

use serde_json::Value;
use wacrm_domain::inbound::{CustomerChange, CustomerRef, NumberRef};

use crate::webhook::json;

/// The change a system message announces, if it announces one; `from` is the
/// sender as the message names them (the identity before the change).
pub(crate) fn customer_change(
    message: &Value,
    from: &CustomerRef,
    number: &NumberRef,
) -> Option<CustomerChange> {
    if json::text(message, "type").as_deref() != Some("system") {
        return None;
    }
    let system = json::object(message, "system")?;
    let previous_user_id = json::text(system, "previous_user_id");
    let current = match json::text(system, "type").as_deref() {
        // Older payloads name the new number `new_wa_id`.
        Some("user_changed_number") => CustomerRef {
            phone: json::first_text(system, &["wa_id", "new_wa_id"]),
            user_id: json::text(system, "user_id"),
            username: None,
        },
        Some("user_changed_user_id") => CustomerRef {
            phone: None,
            user_id: json::text(system, "user_id"),
            username: None,
        },
        _ => return None,
    };
    if current.phone.is_none() && current.user_id.is_none() {
        return None;
    }
    let previous = CustomerRef {
        phone: from.phone.clone(),
        user_id: previous_user_id.or_else(|| from.user_id.clone()),
        username: None,
    };
    // The message's own id may already be the new one: then it says nothing new.
    let previous = CustomerRef {
        user_id: previous
            .user_id
            .filter(|id| Some(id) != current.user_id.as_ref()),
        ..previous
    };
    (previous.phone.is_some() || previous.user_id.is_some()).then(|| CustomerChange {
        number: number.clone(),
        previous,
        current,
    })
}
