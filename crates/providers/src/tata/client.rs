//! TATA's WhatsApp API (Tata Tele Business Services "Omni", base
//! `https://wb.omni.tatatelebusiness.com`): `POST /whatsapp-cloud/messages` with Meta's
//! message body (built in `meta::outbound`) and `Authorization: {api_key}`, the key as
//! it is, no `Bearer`. The key belongs to one business number, so no sender is named.
//!
//! TATA documents no answer we could read; public integrations read either `{id}`
//! (TATA's id for the *request*: `268e8b65-…`, the shape of its webhook envelope
//! ids) or `{messageId}`, and Meta's `{messages: [{id: "wamid…"}]}` may be relayed.
//! The wamid (`messages[0].id`, else `messageId` / `message_id`) is what TATA's
//! status webhooks (seed 004) name in `statuses[].id`: we keep it, and the request
//! id beside it when both come. An answer with only the request id leaves the send
//! *unmatched*: its first status is claimed by recipient and time (see
//! `wacrm_domain::provider_id`).
//!
//! No read-receipt or template-list endpoint is documented for us to rely on:
//! marking read reports `false` and listing gives an empty list, without a call.
//! Errors in Meta's shape are read as Meta's (see `failure`).

use serde_json::Value;
use wacrm_domain::Provider;
use wacrm_domain::outbound::OutboundMessage;
use wacrm_domain::provider_id::IdKind;

use crate::call::{Auth, CallLog, Request, endpoint};
use crate::client::{ProviderClient, Sent};
use crate::error::ProviderError;
use crate::failure;
use crate::meta::outbound::message_body;
use crate::templates::RemoteTemplate;
use crate::webhook::json;

pub(crate) async fn send(
    client: &ProviderClient<'_>,
    log: &mut CallLog<'_>,
    message: &OutboundMessage,
) -> Result<Sent, ProviderError> {
    let api_key = client.credential("api_key")?;
    let url = endpoint(client.base_url, &["whatsapp-cloud", "messages"])?;
    let answer = log
        .call(Request::post(
            url,
            Auth::Header("Authorization", api_key),
            message_body(message),
        ))
        .await?;
    if !answer.is_success()
        || answer
            .body
            .get("error")
            .is_some_and(|error| !error.is_null())
    {
        return Err(failure::classify(Provider::Tata, &answer));
    }
    sent(&answer.body).ok_or_else(|| failure::unexpected(Provider::Tata, "a request id"))
}

/// The ids of an accepted send: the wamid when the answer names it, TATA's
/// request id when it has one.
fn sent(body: &Value) -> Option<Sent> {
    let wamid = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|messages| messages.first())
        .and_then(|message| json::text(message, "id"))
        .or_else(|| json::first_text(body, &["messageId", "message_id"]));
    let request = json::text(body, "id");
    let ids = wamid
        .map(|id| (IdKind::Message, id))
        .into_iter()
        .chain(request.map(|id| (IdKind::Request, id)))
        .collect();
    Sent::with_ids(ids, false)
}

/// TATA documents no template listing that we could verify.
pub(crate) fn list_templates() -> Vec<RemoteTemplate> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    //! TATA's client against a fake Omni API.

    use std::time::Duration;

    use serde_json::json;
    use wacrm_domain::Provider;
    use wacrm_domain::connection::Credentials;
    use wacrm_domain::provider_id::IdKind;

    use crate::client::{ProviderClient, SenderNumber, Sent};
    use crate::error::ProviderError;
    use crate::fake_provider::FakeProvider;
    use crate::fake_provider::fixtures::*;

    const KEY: &str = "tata-secret-key-456";
    const PATH: &str = "/whatsapp-cloud/messages";
    const FROM: SenderNumber<'static> = SenderNumber {
        phone: "919355421616",
        provider_number_id: None,
    };

    fn credentials() -> Credentials {
        Credentials {
            api_key: Some(KEY.into()),
            ..Credentials::default()
        }
    }

    fn client<'a>(
        http: &'a crate::egress::HttpClient,
        fake: &'a FakeProvider,
        credentials: &'a Credentials,
    ) -> ProviderClient<'a> {
        ProviderClient {
            http,
            provider: Provider::Tata,
            base_url: &fake.base_url,
            graph_version: "v25.0",
            credentials,
        }
    }

    /// Each fixture and the body TATA must receive for it, written out by hand
    /// (never with the code under test): TATA's `/whatsapp-cloud/messages`
    /// takes the WhatsApp Cloud API message object as Meta documents it
    /// (developers.facebook.com/docs/whatsapp/cloud-api/reference/messages and
    /// /guides/send-messages: text, template, interactive `button` / `list` /
    /// `cta_url`, location, contacts, reaction), which TATA relays to Meta.
    fn expected_bodies() -> Vec<(wacrm_domain::outbound::OutboundContent, serde_json::Value)> {
        let envelope = |kind: &str, object: serde_json::Value| {
            let mut body = json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                "to": "254700000001", "type": kind});
            body[kind] = object;
            body
        };
        vec![
            (
                text("hi"),
                envelope("text", json!({"body": "hi", "preview_url": false})),
            ),
            (
                template(),
                envelope(
                    "template",
                    json!({"name": "declined_transfert", "language": {"code": "en"}, "components": [
                        {"type": "header", "parameters": [
                            {"type": "image", "image": {"link": "https://picsum.photos/id/237/200/300"}}]},
                        {"type": "body", "parameters": [
                            {"type": "text", "text": "John"}, {"type": "text", "text": "Airtime"}]},
                        {"type": "button", "sub_type": "url", "index": "0", "parameters": [
                            {"type": "text", "text": "INV-1001"}]}
                    ]}),
                ),
            ),
            (
                buttons(),
                envelope(
                    "interactive",
                    json!({"type": "button", "body": {"text": "Interested in our products?"},
                        "action": {"buttons": [
                            {"type": "reply", "reply": {"id": "1", "title": "YES"}},
                            {"type": "reply", "reply": {"id": "2", "title": "NO"}}]}}),
                ),
            ),
            (
                list(),
                envelope(
                    "interactive",
                    json!({"type": "list", "header": {"type": "text", "text": "Welcome"},
                        "body": {"text": "Please choose a product"},
                        "action": {"button": "Click Here", "sections": [{"title": "Airtime", "rows": [
                            {"id": "SAFARICOM_AIRTIME", "title": "Safaricom", "description": "mpesa network"}]}]}}),
                ),
            ),
            (
                cta_url(),
                envelope(
                    "interactive",
                    json!({"type": "cta_url", "body": {"text": "Track your order"},
                        "action": {"name": "cta_url", "parameters": {
                            "display_text": "Track", "url": "https://shop.example/track/1042"}}}),
                ),
            ),
            (
                location(),
                envelope(
                    "location",
                    json!({"latitude": -1.2921, "longitude": 36.8219, "name": "Office", "address": "Kenyatta Ave"}),
                ),
            ),
            (
                contacts(),
                envelope(
                    "contacts",
                    json!([{"name": {"formatted_name": "Asha Otieno", "first_name": "Asha"},
                        "phones": [{"phone": "+254700000002", "type": "CELL"}]}]),
                ),
            ),
            (
                reaction(),
                envelope(
                    "reaction",
                    json!({"message_id": "wamid.INBOUND", "emoji": "👍"}),
                ),
            ),
        ]
    }

    #[tokio::test]
    async fn metas_body_goes_to_tata_with_the_raw_key() {
        let fake = FakeProvider::start("").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        let tata = client(&http, &fake, &credentials);
        for (number, (content, expected)) in expected_bodies().into_iter().enumerate() {
            let request_id = format!("268e8b65-59a2-45df-9006-bd4b2aedbf{number:02}");
            fake.answer("POST", PATH, 200, json!({"id": request_id}));
            let message = message(content);
            let outcome = tata.send(&FROM, &message).await;
            assert_eq!(
                outcome.result,
                Ok(Sent {
                    provider_message_id: request_id.clone(),
                    queued_by_provider: false,
                    ids: vec![(IdKind::Request, request_id)],
                })
            );
            let [request] = fake.take_requests().try_into().unwrap();
            assert_eq!(
                (request.method.as_str(), request.path.as_str()),
                ("POST", PATH)
            );
            assert_eq!(request.header("authorization"), Some(KEY));
            assert_eq!(request.body, expected);
            assert_eq!(request.body["to"], CUSTOMER);
            assert_no_secret(&outcome.calls, KEY);
        }
    }

    #[tokio::test]
    async fn a_wamid_in_the_answer_is_preferred_to_the_request_id() {
        let fake = FakeProvider::start("").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        fake.answer(
            "POST",
            PATH,
            200,
            json!({"id": "req-1", "messages": [{"id": "wamid.T"}]}),
        );
        fake.answer("POST", PATH, 200, json!({"messageId": "wamid.U"}));
        let tata = client(&http, &fake, &credentials);
        let both = tata.send(&FROM, &message(text("hi"))).await.result.unwrap();
        assert_eq!(both.provider_message_id, "wamid.T");
        assert_eq!(
            both.ids,
            [
                (IdKind::Message, "wamid.T".to_owned()),
                (IdKind::Request, "req-1".to_owned())
            ]
        );
        let named = tata.send(&FROM, &message(text("hi"))).await.result.unwrap();
        assert_eq!(named, Sent::named("wamid.U", false));
    }

    #[tokio::test]
    async fn relayed_meta_errors_and_outages_are_classified() {
        let fake = FakeProvider::start("").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        let tata = client(&http, &fake, &credentials);
        fake.answer("POST", PATH, 400, json!({"error": {"message": "Re-engagement message", "code": 131047,
            "error_data": {"details": "Message failed to send because more than 24 hours have passed"}}}));
        fake.answer_with("POST", PATH, 503, &[("Retry-After", "12")], "upstream down");
        fake.answer("POST", PATH, 401, json!({"message": "Unauthorized"}));

        let closed = tata.send(&FROM, &message(text("hi"))).await;
        assert!(
            matches!(closed.result, Err(ProviderError::Permanent { code: Some(ref code), .. }) if code == "131047")
        );
        let down = tata.send(&FROM, &message(text("hi"))).await;
        assert!(
            matches!(down.result, Err(ProviderError::Retryable { retry_after: Some(after), .. })
            if after == Duration::from_secs(12))
        );
        let refused = tata.send(&FROM, &message(text("hi"))).await;
        assert!(matches!(refused.result, Err(ProviderError::Auth { .. })));
        for outcome in [closed, down, refused] {
            assert_no_secret(&outcome.calls, KEY);
        }
        assert_eq!(tata.mark_read(&FROM, "wamid.X").await.result, Ok(false));
        assert_eq!(tata.list_templates(&FROM).await.result, Ok(vec![]));
    }
}
