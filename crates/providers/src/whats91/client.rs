//! Whats91's v2 public API (`Authorization: Bearer w91_…`), base
//! `https://graph.whats91.com/api/v2`. Two send endpoints, each for what it documents:
//!
//! - `POST /chat` `{senderId, to, type: "text", text}`: plain free-form text;
//! - `POST /messages`, the "Meta-compatible" endpoint, `{senderId, …Meta's body}`:
//!   everything else, templates included, and text that needs what `/chat` has no
//!   field for (a reply context, a link preview). Its body is Meta's, built in
//!   `meta::outbound`.
//!
//! Templates do not use Whats91's own `POST /send` `{senderId, to, templateName,
//! parameters, …}`: it has no language field (Whats91 picks the template by name), so
//! a template approved in several languages could go out in the wrong one. The
//! Meta-compatible body carries `template.language.code`, the language of the stored
//! template the outbox matched.
//!
//! Answers are `{success, data: {messageId, status, queued, queueUid}}` (or Meta's
//! `{messages: [{id}]}` from `/messages`); `status: "waiting_reconnect"` / `queued:
//! true` means Whats91 holds the message until the number reconnects: accepted,
//! queued, answered with `queueUid` and `reportUid` but no wamid. We keep every id the
//! answer has; a status naming the queue or report id, or claiming the send by
//! recipient (see `wacrm_domain::provider_id`), teaches us the wamid later statuses
//! name.
//!
//! No read-receipt endpoint is documented: marking read reports `false` without a
//! call. Templates are listed by `whats91::templates`; their statuses also arrive by
//! webhook (`template.status_update`).

use serde_json::{Value, json};
use wacrm_domain::Provider;
use wacrm_domain::outbound::{OutboundContent, OutboundMessage};
use wacrm_domain::provider_id::IdKind;

use crate::call::{Answer, Auth, CallLog, Request, endpoint};
use crate::client::{ProviderClient, SenderNumber, Sent};
use crate::error::ProviderError;
use crate::failure;
use crate::meta::outbound::message_body;
use crate::webhook::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Chat,
    MetaCompatible,
}

pub(crate) async fn send(
    client: &ProviderClient<'_>,
    log: &mut CallLog<'_>,
    from: &SenderNumber<'_>,
    message: &OutboundMessage,
) -> Result<Sent, ProviderError> {
    let api_key = client.credential("api_key")?;
    let (path, mut body) = match route(message) {
        Route::Chat => ("chat", chat_body(message)),
        Route::MetaCompatible => ("messages", message_body(message)),
    };
    if let Value::Object(fields) = &mut body {
        fields.insert("senderId".into(), json!(from.phone));
    }
    let url = endpoint(client.base_url, &[path])?;
    let answer = log
        .call(Request::post(url, Auth::Bearer(api_key), body))
        .await?;
    sent(&success(answer)?.body)
}

fn route(message: &OutboundMessage) -> Route {
    match &message.content {
        OutboundContent::Text { preview_url, .. } if !preview_url && message.reply_to.is_none() => {
            Route::Chat
        }
        _ => Route::MetaCompatible,
    }
}

fn chat_body(message: &OutboundMessage) -> Value {
    let text = match &message.content {
        OutboundContent::Text { text, .. } => text.as_str(),
        _ => "",
    };
    json!({"to": message.to, "type": "text", "text": text})
}

/// A 2xx with `success: false` is a refusal all the same.
fn success(answer: Answer) -> Result<Answer, ProviderError> {
    let refused = answer.body.get("success") == Some(&Value::Bool(false))
        || answer
            .body
            .get("error")
            .is_some_and(|error| !error.is_null());
    if answer.is_success() && !refused {
        Ok(answer)
    } else {
        Err(failure::classify(Provider::Whats91, &answer))
    }
}

fn sent(body: &Value) -> Result<Sent, ProviderError> {
    let meta_id = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|messages| messages.first())
        .and_then(|message| json::text(message, "id"));
    let data = body.get("data").unwrap_or(&Value::Null);
    let status = json::text(data, "status").or_else(|| json::text(body, "status"));
    let queued = data.get("queued") == Some(&Value::Bool(true))
        || status.is_some_and(|status| status.eq_ignore_ascii_case("waiting_reconnect"));
    let wamid = meta_id.or_else(|| json::first_text(data, &["messageId", "message_id"]));
    let request = || {
        body.get("metadata")
            .and_then(|metadata| json::text(metadata, "requestId"))
    };
    let ids: Vec<(IdKind, String)> = [
        (IdKind::Message, wamid),
        (
            IdKind::Queue,
            json::first_text(data, &["queueUid", "queue_uid"]),
        ),
        (
            IdKind::Report,
            json::first_text(data, &["reportUid", "report_uid"]),
        ),
    ]
    .into_iter()
    .filter_map(|(kind, id)| id.map(|id| (kind, id)))
    .collect();
    // Only the API request's own id: nothing a status will name, but something
    // to claim by recipient.
    let ids = if ids.is_empty() {
        request()
            .map(|id| vec![(IdKind::Request, id)])
            .unwrap_or_default()
    } else {
        ids
    };
    Sent::with_ids(ids, queued)
        .ok_or_else(|| failure::unexpected(Provider::Whats91, "a message id"))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;
    use wacrm_domain::outbound::Media;

    use super::*;

    fn message(content: OutboundContent, reply_to: Option<&str>) -> OutboundMessage {
        OutboundMessage {
            client_id: Uuid::nil(),
            to: "918888888888".into(),
            to_user_id: None,
            content,
            reply_to: reply_to.map(Into::into),
        }
    }

    #[test]
    fn each_message_takes_the_endpoint_that_can_carry_it() {
        let text = |preview_url| OutboundContent::Text {
            text: "Hi".into(),
            preview_url,
        };
        assert_eq!(route(&message(text(false), None)), Route::Chat);
        assert_eq!(route(&message(text(true), None)), Route::MetaCompatible);
        assert_eq!(
            route(&message(text(false), Some("wamid.Q")),),
            Route::MetaCompatible
        );
        // Templates carry their language, which only the Meta-compatible body has.
        let template = OutboundContent::Template {
            name: "payment_reminder".into(),
            language: "en".into(),
            header: None,
            body_params: vec!["Devendar".into()],
            button_params: vec![],
            body_param_names: vec![],
            header_param_name: None,
        };
        assert_eq!(route(&message(template, None)), Route::MetaCompatible);
        let media = OutboundContent::Image(Media {
            link: Some("https://x.example/a.jpg".into()),
            ..Media::default()
        });
        assert_eq!(route(&message(media, None)), Route::MetaCompatible);
    }

    #[test]
    fn a_queued_answer_is_accepted_as_queued() {
        let queued = sent(&json!({"success": true, "data": {"queued": true, "queueUid": "q-1", "reportUid": "r-1", "status": "waiting_reconnect"}})).unwrap();
        assert_eq!(
            queued,
            Sent {
                provider_message_id: "q-1".into(),
                queued_by_provider: true,
                ids: vec![
                    (IdKind::Queue, "q-1".into()),
                    (IdKind::Report, "r-1".into())
                ],
            }
        );
        let meta = sent(&json!({"messaging_product": "whatsapp", "messages": [{"id": "wamid.M"}]}))
            .unwrap();
        assert_eq!(meta.provider_message_id, "wamid.M");
        assert!(!meta.queued_by_provider);
        assert!(sent(&json!({"success": true})).is_err());
    }

    mod over_http {
        //! The client against a fake Whats91 v2 API.

        use serde_json::json;
        use wacrm_domain::Provider;
        use wacrm_domain::connection::Credentials;
        use wacrm_domain::outbound::{Media, OutboundContent};
        use wacrm_domain::provider_id::IdKind;

        use crate::client::{ProviderClient, SenderNumber, Sent};
        use crate::error::ProviderError;
        use crate::fake_provider::FakeProvider;
        use crate::fake_provider::fixtures::*;

        const KEY: &str = "w91_live_secret123";
        const FROM: SenderNumber<'static> = SenderNumber {
            phone: "919999999999",
            provider_number_id: None,
        };

        fn client<'a>(
            http: &'a crate::egress::HttpClient,
            fake: &'a FakeProvider,
            credentials: &'a Credentials,
        ) -> ProviderClient<'a> {
            ProviderClient {
                http,
                provider: Provider::Whats91,
                base_url: &fake.base_url,
                graph_version: "v25.0",
                credentials,
            }
        }

        fn credentials() -> Credentials {
            Credentials {
                api_key: Some(KEY.into()),
                signing_secret: Some("signing".into()),
                ..Credentials::default()
            }
        }

        #[tokio::test]
        async fn text_templates_and_the_rest_each_take_their_endpoint() {
            let fake = FakeProvider::start("/api/v2").await;
            let http = crate::egress::HttpClient::local();
            let credentials = credentials();
            let whats91 = client(&http, &fake, &credentials);
            let accepted = |id: &str| {
                json!({"success": true, "message": "Message accepted by Meta",
                       "data": {"messageId": id, "message_id": id, "queued": false, "status": "accepted",
                                "senderId": "919999999999", "phoneNumberId": "1234567890", "receiverId": CUSTOMER},
                       "metadata": {"apiVersion": "v2", "requestId": "request-uuid"}})
            };
            fake.answer("POST", "/api/v2/chat", 200, accepted("wamid.T"));
            fake.answer("POST", "/api/v2/messages", 200, accepted("wamid.P"));
            fake.answer("POST", "/api/v2/messages", 200,
                        json!({"messaging_product": "whatsapp", "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
                               "messages": [{"id": "wamid.I"}], "metadata": {"apiVersion": "v2", "requestId": "r"}}));
            fake.answer(
                "POST",
                "/api/v2/messages",
                200,
                json!({"messages": [{"id": "wamid.L"}]}),
            );

            let image = OutboundContent::Image(Media {
                caption: Some("Menu".into()),
                ..linked("https://cdn.example/m.jpg")
            });
            let contents = [
                text("Your support ticket has been updated."),
                template(),
                image,
                location(),
            ];
            let mut ids = Vec::new();
            for content in contents {
                let outcome = whats91.send(&FROM, &message(content)).await;
                assert_no_secret(&outcome.calls, KEY);
                ids.push(outcome.result.unwrap().provider_message_id);
            }
            assert_eq!(ids, ["wamid.T", "wamid.P", "wamid.I", "wamid.L"]);

            let requests = fake.take_requests();
            let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
            assert_eq!(
                paths,
                [
                    "/api/v2/chat",
                    "/api/v2/messages",
                    "/api/v2/messages",
                    "/api/v2/messages"
                ]
            );
            assert!(requests.iter().all(|r| r.method == "POST"
                && r.header("authorization") == Some("Bearer w91_live_secret123")));
            assert_eq!(
                requests[0].body,
                json!({"senderId": "919999999999", "to": CUSTOMER, "type": "text",
                       "text": "Your support ticket has been updated."})
            );
            // developers.whats91.com/messaging/meta-compatibility/template: Meta's
            // template object, with `language.code`.
            assert_eq!(
                requests[1].body,
                json!({"senderId": "919999999999", "messaging_product": "whatsapp", "recipient_type": "individual",
                       "to": CUSTOMER, "type": "template",
                       "template": {"name": "declined_transfert", "language": {"code": "en"}, "components": [
                           {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://picsum.photos/id/237/200/300"}}]},
                           {"type": "body", "parameters": [{"type": "text", "text": "John"}, {"type": "text", "text": "Airtime"}]},
                           {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "INV-1001"}]}]}})
            );
            assert_eq!(
                requests[2].body,
                json!({"senderId": "919999999999", "messaging_product": "whatsapp", "recipient_type": "individual",
                       "to": CUSTOMER, "type": "image", "image": {"link": "https://cdn.example/m.jpg", "caption": "Menu"}})
            );
            assert_eq!(requests[3].body["location"]["name"], "Office");
        }

        #[tokio::test]
        async fn a_reconnecting_number_queues_and_a_bad_key_is_an_auth_error() {
            let fake = FakeProvider::start("/api/v2").await;
            let http = crate::egress::HttpClient::local();
            let credentials = credentials();
            let whats91 = client(&http, &fake, &credentials);
            fake.answer("POST", "/api/v2/messages", 200, json!({"success": true, "message": "Queued until the sender reconnects",
                "data": {"queued": true, "queueUid": "queue-7", "reportUid": "report-7", "status": "waiting_reconnect"}}));
            fake.answer(
                "POST",
                "/api/v2/chat",
                401,
                json!({"error": {"message": "Invalid, expired, revoked, or inactive token.",
                "type": "Whats91PublicApiException", "code": "INVALID_PUBLIC_API_TOKEN"}}),
            );
            fake.answer("POST", "/api/v2/chat", 200, json!({"success": false, "error": {"code": "MISSING_TEXT", "message": "Text is required"}}));

            let queued = whats91.send(&FROM, &message(template())).await;
            assert_eq!(
                queued.result,
                Ok(Sent {
                    provider_message_id: "queue-7".into(),
                    queued_by_provider: true,
                    ids: vec![
                        (IdKind::Queue, "queue-7".into()),
                        (IdKind::Report, "report-7".into())
                    ],
                })
            );
            let refused = whats91.send(&FROM, &message(text("Hi"))).await;
            assert!(
                matches!(refused.result, Err(ProviderError::Auth { code: Some(ref code), .. }) if code == "INVALID_PUBLIC_API_TOKEN")
            );
            let invalid = whats91.send(&FROM, &message(text("Hi"))).await;
            assert!(
                matches!(invalid.result, Err(ProviderError::Permanent { code: Some(ref code), .. }) if code == "MISSING_TEXT")
            );
            for outcome in [refused, invalid] {
                assert_no_secret(&outcome.calls, KEY);
            }
        }

        #[tokio::test]
        async fn no_read_receipts_means_no_call() {
            let fake = FakeProvider::start("/api/v2").await;
            let http = crate::egress::HttpClient::local();
            let credentials = credentials();
            let whats91 = client(&http, &fake, &credentials);
            let read = whats91.mark_read(&FROM, "wamid.IN").await;
            assert_eq!((read.result, read.calls.len()), (Ok(false), 0));
            assert!(fake.take_requests().is_empty());
        }

        #[tokio::test]
        async fn templates_are_listed_page_by_page_for_the_sender() {
            // The answer's shape is our assumption (see `whats91::templates`): Whats91's
            // list envelope and pagination (public/llms/conversations.md) around
            // templates as `POST /api/v2/templates` answers them (public/llms/templates.md).
            let fake = FakeProvider::start("/api/v2").await;
            let http = crate::egress::HttpClient::local();
            let credentials = credentials();
            let whats91 = client(&http, &fake, &credentials);
            fake.answer("GET", "/api/v2/templates", 200, json!({"success": true, "message": "Templates retrieved",
                "data": {"senderId": "919999999999", "templates": [
                    {"templateUid": "uid-1", "templateName": "payment_reminder_v1", "category": "UTILITY", "language": "en",
                     "status": "APPROVED", "body": {"text": "Hello {{1}}, invoice {{2}} is due."}},
                    {"templateUid": "uid-2", "templateName": "festival_offer_v1", "category": "MARKETING", "language": "en",
                     "status": "PENDING", "body": {"text": "Save {{1}}"}}],
                    "pagination": {"page": 1, "limit": 100, "total": 3, "totalPages": 2, "hasMore": true}},
                "metadata": {"apiVersion": "v2", "requestId": "request-uuid"}}));
            fake.answer("GET", "/api/v2/templates", 200, json!({"success": true,
                "data": {"templates": [{"templateUid": "uid-3", "templateName": "login_otp_v1", "category": "AUTHENTICATION",
                    "language": "en_US", "status": "REJECTED"}],
                    "pagination": {"page": 2, "limit": 100, "total": 3, "totalPages": 2, "hasMore": false}}}));

            let listed = whats91.list_templates(&FROM).await;
            assert_no_secret(&listed.calls, KEY);
            let listed = listed.result.unwrap();
            let names: Vec<(&str, &str)> = listed
                .iter()
                .map(|t| (t.name.as_str(), t.language.as_str()))
                .collect();
            assert_eq!(
                names,
                [
                    ("payment_reminder_v1", "en"),
                    ("festival_offer_v1", "en"),
                    ("login_otp_v1", "en_US")
                ]
            );
            assert_eq!(
                listed[0].components,
                json!([{"type": "BODY", "text": "Hello {{1}}, invoice {{2}} is due."}])
            );
            let requests = fake.take_requests();
            assert_eq!(requests.len(), 2);
            assert!(requests.iter().all(|r| r.method == "GET"
                && r.path == "/api/v2/templates"
                && r.header("authorization") == Some("Bearer w91_live_secret123")));
            assert_eq!(requests[0].query, "senderId=919999999999&page=1&limit=100");
            assert_eq!(requests[1].query, "senderId=919999999999&page=2&limit=100");
        }

        #[tokio::test]
        async fn a_refused_listing_is_an_error_not_an_empty_list() {
            let fake = FakeProvider::start("/api/v2").await;
            let http = crate::egress::HttpClient::local();
            let credentials = credentials();
            let whats91 = client(&http, &fake, &credentials);
            fake.answer(
                "GET",
                "/api/v2/templates",
                401,
                json!({"error": {"message": "Invalid, expired, revoked, or inactive token.",
                "type": "Whats91PublicApiException", "code": "INVALID_PUBLIC_API_TOKEN"}}),
            );
            let listed = whats91.list_templates(&FROM).await;
            assert!(matches!(listed.result, Err(ProviderError::Auth { .. })));
        }
    }
}
