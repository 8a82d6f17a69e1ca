//! Whats91's v2 public API (`Authorization: Bearer w91_…`), base
//! `https://graph.whats91.com/api/v2`. Three endpoints, each for what it documents:
//!
//! - `POST /chat` `{senderId, to, type: "text", text}`: plain free-form text;
//! - `POST /send` `{senderId, to, templateName, parameters, buttonParameters?,
//!   mediaUrl?}`: templates whose values fit those fields;
//! - `POST /messages`, the "Meta-compatible" endpoint, `{senderId, …Meta's body}`:
//!   everything else (media, location, contacts, interactive, reactions), and text or
//!   templates that need what `/chat` and `/send` have no field for (a reply context,
//!   a link preview, a text-header parameter, a document filename, quick-reply or
//!   coupon values, named parameters). Its body is Meta's, built in `meta::outbound`.
//!
//! `/send` has no language field: Whats91 picks the template by name. Answers are
//! `{success, data: {messageId, status, queued, queueUid}}` (or Meta's `{messages:
//! [{id}]}` from `/messages`); `status: "waiting_reconnect"` / `queued: true` means
//! Whats91 holds the message until the number reconnects: accepted, queued. Its id is
//! then the queue's, which later status webhooks (naming the wamid) will not match.
//!
//! No read-receipt or template-list endpoint is documented: marking read reports
//! `false` and listing gives an empty list, both without a call; template statuses
//! arrive by webhook (`template.status_update`).

use serde_json::{Value, json};
use wacrm_domain::Provider;
use wacrm_domain::outbound::{ButtonSubType, OutboundContent, OutboundMessage, TemplateHeader};

use crate::call::{Answer, Auth, CallLog, Request, endpoint};
use crate::client::{ProviderClient, SenderNumber, Sent};
use crate::error::ProviderError;
use crate::failure;
use crate::meta::outbound::{insert_some, message_body};
use crate::templates::RemoteTemplate;
use crate::webhook::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Chat,
    Send,
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
        Route::Send => ("send", send_body(message)),
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

/// Whats91 documents no template listing; its webhooks report template statuses.
pub(crate) fn list_templates() -> Vec<RemoteTemplate> {
    Vec::new()
}

fn route(message: &OutboundMessage) -> Route {
    match &message.content {
        OutboundContent::Text { preview_url, .. } if !preview_url && message.reply_to.is_none() => {
            Route::Chat
        }
        OutboundContent::Template {
            header,
            button_params,
            body_param_names,
            header_param_name,
            ..
        } if message.reply_to.is_none() => {
            let header_fits = match header {
                None | Some(TemplateHeader::Image { .. } | TemplateHeader::Video { .. }) => true,
                Some(TemplateHeader::Text { params }) => params.is_empty(),
                Some(TemplateHeader::Document { filename, .. }) => filename.is_none(),
            };
            let buttons_fit = button_params
                .iter()
                .all(|button| button.sub_type == ButtonSubType::Url);
            let positional = body_param_names.is_empty() && header_param_name.is_none();
            if header_fits && buttons_fit && positional {
                Route::Send
            } else {
                Route::MetaCompatible
            }
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

fn send_body(message: &OutboundMessage) -> Value {
    let OutboundContent::Template {
        name,
        header,
        body_params,
        button_params,
        ..
    } = &message.content
    else {
        return Value::Null;
    };
    let mut body = json!({"to": message.to, "templateName": name, "parameters": body_params});
    if !button_params.is_empty() {
        // Values in button order: `/send` has no index field.
        let mut buttons: Vec<_> = button_params.iter().collect();
        buttons.sort_by_key(|button| button.index);
        let values: Vec<&str> = buttons.iter().map(|button| button.param.as_str()).collect();
        body["buttonParameters"] = json!(values);
    }
    let media = match header {
        Some(
            TemplateHeader::Image { link }
            | TemplateHeader::Video { link }
            | TemplateHeader::Document { link, .. },
        ) => Some(link.as_str()),
        _ => None,
    };
    insert_some(&mut body, "mediaUrl", media);
    body
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
    let id = meta_id
        .or_else(|| json::first_text(data, &["messageId", "message_id", "queueUid", "reportUid"]))
        .or_else(|| {
            body.get("metadata")
                .and_then(|metadata| json::text(metadata, "requestId"))
        })
        .ok_or_else(|| failure::unexpected(Provider::Whats91, "a message id"))?;
    Ok(Sent {
        provider_message_id: id,
        queued_by_provider: queued,
    })
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;
    use wacrm_domain::outbound::{ButtonParam, Media};

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

    fn template(header: Option<TemplateHeader>, buttons: Vec<ButtonParam>) -> OutboundContent {
        OutboundContent::Template {
            name: "payment_reminder".into(),
            language: "en".into(),
            header,
            body_params: vec!["Devendar".into()],
            button_params: buttons,
            body_param_names: vec![],
            header_param_name: None,
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
            route(&message(text(false), Some("wamid.Q"))),
            Route::MetaCompatible
        );

        let image = Some(TemplateHeader::Image {
            link: "https://x.example/a.jpg".into(),
        });
        let url_button = ButtonParam {
            index: 0,
            sub_type: ButtonSubType::Url,
            param: "INV-1".into(),
        };
        assert_eq!(
            route(&message(template(image, vec![url_button.clone()]), None)),
            Route::Send
        );
        let named_header = Some(TemplateHeader::Text {
            params: vec!["July".into()],
        });
        assert_eq!(
            route(&message(template(named_header, vec![]), None)),
            Route::MetaCompatible
        );
        let coupon = ButtonParam {
            sub_type: ButtonSubType::CopyCode,
            ..url_button
        };
        assert_eq!(
            route(&message(template(None, vec![coupon]), None)),
            Route::MetaCompatible
        );
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
                queued_by_provider: true
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
            http: &'a reqwest::Client,
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
            let http = reqwest::Client::new();
            let credentials = credentials();
            let whats91 = client(&http, &fake, &credentials);
            let accepted = |id: &str| {
                json!({"success": true, "message": "Message accepted by Meta",
                       "data": {"messageId": id, "message_id": id, "queued": false, "status": "accepted",
                                "senderId": "919999999999", "phoneNumberId": "1234567890", "receiverId": CUSTOMER},
                       "metadata": {"apiVersion": "v2", "requestId": "request-uuid"}})
            };
            fake.answer("POST", "/api/v2/chat", 200, accepted("wamid.T"));
            fake.answer("POST", "/api/v2/send", 200, accepted("wamid.P"));
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
                    "/api/v2/send",
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
            assert_eq!(
                requests[1].body,
                json!({"senderId": "919999999999", "to": CUSTOMER, "templateName": "declined_transfert",
                       "parameters": ["John", "Airtime"], "buttonParameters": ["INV-1001"],
                       "mediaUrl": "https://picsum.photos/id/237/200/300"})
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
            let http = reqwest::Client::new();
            let credentials = credentials();
            let whats91 = client(&http, &fake, &credentials);
            fake.answer("POST", "/api/v2/send", 200, json!({"success": true, "message": "Queued until the sender reconnects",
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
                    queued_by_provider: true
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
        async fn no_read_receipts_and_no_template_list_means_no_calls() {
            let fake = FakeProvider::start("/api/v2").await;
            let http = reqwest::Client::new();
            let credentials = credentials();
            let whats91 = client(&http, &fake, &credentials);
            let read = whats91.mark_read(&FROM, "wamid.IN").await;
            assert_eq!((read.result, read.calls.len()), (Ok(false), 0));
            let listed = whats91.list_templates(&FROM).await;
            assert_eq!((listed.result, listed.calls.len()), (Ok(vec![]), 0));
            assert!(fake.take_requests().is_empty());
        }
    }
}
