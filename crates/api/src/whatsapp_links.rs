//! What the CRM records show of the WhatsApp side of a phone: a lead's or
//! contact's WhatsApp contact, a conversation's consent and blocklist state.
//! Each is filled for a whole page in one query.

use std::collections::HashMap;

use uuid::Uuid;
use wacrm_persistence::{AsyncPgConnection, phone_consent, whatsapp_contacts};

use crate::error::ApiResult;
use crate::phone_consent::ConsentSummary;
use crate::routes::contacts::ContactResponse;
use crate::routes::conversations::ConversationResponse;
use crate::routes::leads::LeadResponse;

/// A response that links to the WhatsApp contact with its phone.
pub trait LinksWhatsappContact {
    fn phone_normalized(&self) -> Option<&str>;
    fn link(&mut self, whatsapp_contact_id: Option<Uuid>);
}

impl LinksWhatsappContact for LeadResponse {
    fn phone_normalized(&self) -> Option<&str> {
        self.phone_normalized.as_deref()
    }

    fn link(&mut self, whatsapp_contact_id: Option<Uuid>) {
        self.whatsapp_contact_id = whatsapp_contact_id;
    }
}

impl LinksWhatsappContact for ContactResponse {
    fn phone_normalized(&self) -> Option<&str> {
        self.phone_normalized.as_deref()
    }

    fn link(&mut self, whatsapp_contact_id: Option<Uuid>) {
        self.whatsapp_contact_id = whatsapp_contact_id;
    }
}

/// Sets `whatsapp_contact_id` on every item.
pub async fn link_whatsapp_contacts<T: LinksWhatsappContact>(
    conn: &mut AsyncPgConnection,
    items: &mut [T],
) -> ApiResult<()> {
    let phones = items
        .iter()
        .filter_map(|item| item.phone_normalized().map(str::to_owned))
        .collect();
    let ids: HashMap<String, Uuid> = whatsapp_contacts::ids_by_phone(conn, phones).await?;
    for item in items {
        let id = item
            .phone_normalized()
            .and_then(|phone| ids.get(phone).copied());
        item.link(id);
    }
    Ok(())
}

/// Sets `consent` and `blocked` on every conversation from its customer's phone.
pub async fn fill_consent(
    conn: &mut AsyncPgConnection,
    conversations: &mut [ConversationResponse],
) -> ApiResult<()> {
    let phones = conversations
        .iter()
        .filter_map(|c| c.customer_phone.clone())
        .collect();
    let states = phone_consent::of_phones(conn, phones).await?;
    for conversation in conversations {
        if let Some(state) = conversation
            .customer_phone
            .as_deref()
            .and_then(|phone| states.get(phone))
        {
            conversation.consent = ConsentSummary::from(state);
            conversation.blocked = state.blocked;
        }
    }
    Ok(())
}

/// One conversation's response with its customer's consent.
pub async fn conversation_response(
    conn: &mut AsyncPgConnection,
    row: wacrm_persistence::conversations::Conversation,
) -> ApiResult<ConversationResponse> {
    let mut response = ConversationResponse::from(row);
    fill_consent(conn, std::slice::from_mut(&mut response)).await?;
    Ok(response)
}
