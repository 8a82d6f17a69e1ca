//! Meta's Cloud API over HTTP: `POST /{phone_number_id}/messages` to send, to mark
//! read and to show the typing indicator, `GET /{waba_id}/message_templates` to list templates, all under
//! `{base_url}/{graph_version}` with `Authorization: Bearer {access_token}`.

use serde_json::{Value, json};
use wacrm_domain::Provider;
use wacrm_domain::outbound::OutboundMessage;

use super::{errors, outbound};
use crate::call::{Answer, Auth, CallLog, Request, endpoint};
use crate::client::{ProviderClient, SenderNumber, Sent};
use crate::error::ProviderError;
use crate::failure;
use crate::templates::{self, Pages, RemoteTemplate};
use crate::webhook::json;

/// Meta's largest template page.
const TEMPLATES_PER_PAGE: &str = "100";

/// `messages[].message_status` values that mean Meta holds the message back for now.
const HELD: [&str; 2] = ["held_for_quality_assessment", "paused"];

pub(crate) async fn send(
    client: &ProviderClient<'_>,
    log: &mut CallLog<'_>,
    from: &SenderNumber<'_>,
    message: &OutboundMessage,
) -> Result<Sent, ProviderError> {
    let token = client.credential("access_token")?;
    let url = messages_url(client, from)?;
    let answer = log
        .call(Request::post(
            url,
            Auth::Bearer(token),
            outbound::message_body(message),
        ))
        .await?;
    let answer = success(answer)?;
    let accepted = answer
        .body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|messages| messages.first());
    let id = accepted
        .and_then(|accepted| json::text(accepted, "id"))
        .ok_or_else(|| failure::unexpected(Provider::Meta, "a message id"))?;
    let status = accepted.and_then(|accepted| json::text(accepted, "message_status"));
    Ok(Sent::named(
        id,
        status.is_some_and(|status| HELD.contains(&status.as_str())),
    ))
}

/// Marks a message read; with `typing`, also shows the customer a typing indicator
/// (dismissed by our reply or after 25 seconds), in the same call.
pub(crate) async fn mark_read(
    client: &ProviderClient<'_>,
    log: &mut CallLog<'_>,
    from: &SenderNumber<'_>,
    provider_message_id: &str,
    typing: bool,
) -> Result<bool, ProviderError> {
    let token = client.credential("access_token")?;
    let url = messages_url(client, from)?;
    let mut body = json!({"messaging_product": "whatsapp", "status": "read", "message_id": provider_message_id});
    if typing {
        // developers.facebook.com/documentation/business-messaging/whatsapp/typing-indicators/
        body["typing_indicator"] = json!({"type": "text"});
    }
    let answer = success(
        log.call(Request::post(url, Auth::Bearer(token), body))
            .await?,
    )?;
    match answer.body.get("success").and_then(Value::as_bool) {
        Some(true) => Ok(true),
        _ => Err(failure::unexpected(Provider::Meta, "`success: true`")),
    }
}

pub(crate) async fn list_templates(
    client: &ProviderClient<'_>,
    log: &mut CallLog<'_>,
) -> Result<Vec<RemoteTemplate>, ProviderError> {
    let token = client.credential("access_token")?;
    let waba_id = client.credential("waba_id")?;
    let base = endpoint(
        client.base_url,
        &[client.graph_version, waba_id, "message_templates"],
    )?;
    let mut found = Vec::new();
    let mut pages = Pages::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = base.clone();
        url.query_pairs_mut()
            .append_pair("limit", TEMPLATES_PER_PAGE);
        if let Some(after) = &cursor {
            pages.advance(after)?;
            url.query_pairs_mut().append_pair("after", after);
        }
        let answer = success(log.call(Request::get(url, Auth::Bearer(token))).await?)?;
        let data = answer
            .body
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| failure::unexpected(Provider::Meta, "a `data` list of templates"))?;
        found.extend(data.iter().filter_map(templates::from_meta_shape));
        cursor = templates::next_cursor(answer.body.get("paging"));
        if cursor.is_none() {
            return Ok(found);
        }
    }
}

fn messages_url(
    client: &ProviderClient<'_>,
    from: &SenderNumber<'_>,
) -> Result<url::Url, ProviderError> {
    let number_id = from
        .provider_number_id
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| ProviderError::Permanent {
            code: None,
            message: format!(
                "the number {} has no Meta phone number id: add it to the number's settings",
                from.phone
            ),
        })?;
    endpoint(
        client.base_url,
        &[client.graph_version, number_id, "messages"],
    )
}

fn success(answer: Answer) -> Result<Answer, ProviderError> {
    if answer.is_success() && answer.body.get("error").is_none() {
        Ok(answer)
    } else {
        Err(errors::classify(
            answer.status.as_u16(),
            answer.retry_after,
            &answer.body,
        ))
    }
}

#[cfg(test)]
mod tests {
    //! Meta's client against a fake Graph API: what it sent, and what it made of the answer.

    use std::time::Duration;

    use serde_json::{Value, json};
    use wacrm_domain::Provider;
    use wacrm_domain::connection::Credentials;
    use wacrm_domain::inbound::TemplateStatus;
    use wacrm_domain::outbound::{Media, OutboundContent};

    use crate::client::{ProviderClient, SenderNumber, Sent};
    use crate::error::ProviderError;
    use crate::fake_provider::FakeProvider;
    use crate::fake_provider::fixtures::*;

    const TOKEN: &str = "EAAG-meta-secret-token";
    const NUMBER_ID: &str = "106540352242922";
    const WABA: &str = "102290129340398";
    const MESSAGES: &str = "/v25.0/106540352242922/messages";

    fn credentials() -> Credentials {
        Credentials {
            access_token: Some(TOKEN.into()),
            waba_id: Some(WABA.into()),
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
            provider: Provider::Meta,
            base_url: &fake.base_url,
            graph_version: "v25.0",
            credentials,
        }
    }

    const FROM: SenderNumber<'static> = SenderNumber {
        phone: "15550001111",
        provider_number_id: Some(NUMBER_ID),
    };

    fn accepted(id: &str) -> Value {
        json!({"messaging_product": "whatsapp",
               "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
               "messages": [{"id": id}]})
    }

    fn envelope(type_name: &str, object: Value) -> Value {
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": CUSTOMER, "type": type_name, type_name: object})
    }

    #[tokio::test]
    async fn every_message_type_is_posted_in_metas_shape() {
        let fake = FakeProvider::start("").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        let meta = client(&http, &fake, &credentials);
        let by_id = Media {
            media_id: Some("1013859600285441".into()),
            caption: Some("Quote".into()),
            filename: Some("quote.pdf".into()),
            ..Media::default()
        };
        let cases = vec![
            (
                text("Hello Asha"),
                envelope("text", json!({"body": "Hello Asha", "preview_url": false})),
            ),
            (
                template(),
                envelope(
                    "template",
                    json!({
                        "name": "declined_transfert", "language": {"code": "en"},
                        "components": [
                            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://picsum.photos/id/237/200/300"}}]},
                            {"type": "body", "parameters": [{"type": "text", "text": "John"}, {"type": "text", "text": "Airtime"}]},
                            {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "INV-1001"}]}
                        ]
                    }),
                ),
            ),
            (
                OutboundContent::Image(Media {
                    caption: Some("Menu".into()),
                    ..linked("https://cdn.example/menu.jpg")
                }),
                envelope(
                    "image",
                    json!({"link": "https://cdn.example/menu.jpg", "caption": "Menu"}),
                ),
            ),
            (
                OutboundContent::Audio(linked("https://cdn.example/a.ogg")),
                envelope("audio", json!({"link": "https://cdn.example/a.ogg"})),
            ),
            (
                OutboundContent::Video(linked("https://cdn.example/v.mp4")),
                envelope("video", json!({"link": "https://cdn.example/v.mp4"})),
            ),
            (
                OutboundContent::Document(by_id),
                envelope(
                    "document",
                    json!({"id": "1013859600285441", "caption": "Quote", "filename": "quote.pdf"}),
                ),
            ),
            (
                OutboundContent::Sticker(linked("https://cdn.example/s.webp")),
                envelope("sticker", json!({"link": "https://cdn.example/s.webp"})),
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
                buttons(),
                envelope(
                    "interactive",
                    json!({"type": "button", "body": {"text": "Interested in our products?"},
                    "action": {"buttons": [{"type": "reply", "reply": {"id": "1", "title": "YES"}},
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
                    "action": {"name": "cta_url", "parameters": {"display_text": "Track", "url": "https://shop.example/track/1042"}}}),
                ),
            ),
            (
                reaction(),
                envelope(
                    "reaction",
                    json!({"message_id": "wamid.INBOUND", "emoji": "👍"}),
                ),
            ),
        ];
        for (number, (content, expected)) in cases.into_iter().enumerate() {
            let wamid = format!("wamid.OUT{number}");
            fake.answer("POST", MESSAGES, 200, accepted(&wamid));
            let outcome = meta.send(&FROM, &message(content)).await;
            assert_eq!(outcome.result, Ok(Sent::named(wamid, false)), "{expected}");
            let [request] = fake.take_requests().try_into().unwrap();
            assert_eq!(
                (request.method.as_str(), request.path.as_str()),
                ("POST", MESSAGES)
            );
            assert_eq!(
                request.header("authorization"),
                Some("Bearer EAAG-meta-secret-token")
            );
            assert_eq!(request.body, expected);
            let [call] = outcome.calls.as_slice() else {
                panic!("{:?}", outcome.calls)
            };
            assert_eq!(
                (call.method.as_str(), call.path.as_str(), call.status),
                ("POST", MESSAGES, Some(200))
            );
            assert_eq!(call.error, None);
            assert_eq!(
                serde_json::from_str::<Value>(call.request_body.as_deref().unwrap()).unwrap(),
                expected
            );
            assert_no_secret(&outcome.calls, TOKEN);
        }
    }

    #[tokio::test]
    async fn a_reply_carries_its_context_and_a_held_message_is_queued() {
        let fake = FakeProvider::start("").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        fake.answer(
            "POST",
            MESSAGES,
            200,
            json!({"messages": [{"id": "wamid.H", "message_status": "held_for_quality_assessment"}]}),
        );
        let mut reply = message(text("Sure"));
        reply.reply_to = Some("wamid.QUOTED".into());
        let outcome = client(&http, &fake, &credentials).send(&FROM, &reply).await;
        assert_eq!(outcome.result, Ok(Sent::named("wamid.H", true)));
        let [request] = fake.take_requests().try_into().unwrap();
        assert_eq!(
            request.body["context"],
            json!({"message_id": "wamid.QUOTED"})
        );
    }

    #[tokio::test]
    async fn metas_refusals_are_classified_with_its_code() {
        let fake = FakeProvider::start("").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        let meta = client(&http, &fake, &credentials);
        let error = |code: i64, details: &str| {
            json!({"error": {"message": "(#x) Meta's words", "type": "OAuthException", "code": code,
                             "error_data": {"messaging_product": "whatsapp", "details": details},
                             "fbtrace_id": "AbCdEf"}})
            .to_string()
        };
        fake.answer_with(
            "POST",
            MESSAGES,
            400,
            &[],
            &error(
                131047,
                "More than 24 hours have passed since the customer last replied.",
            ),
        );
        fake.answer_with(
            "POST",
            MESSAGES,
            400,
            &[],
            &error(131026, "Receiver is incapable of receiving this message."),
        );
        fake.answer_with(
            "POST",
            MESSAGES,
            429,
            &[("Retry-After", "30")],
            &error(130429, "Rate limit hit."),
        );
        fake.answer_with(
            "POST",
            MESSAGES,
            401,
            &[],
            &error(190, "Error validating access token: Session has expired."),
        );
        fake.answer_with("POST", MESSAGES, 400, &[], &error(132000, "body: number of localizable_params (1) does not match the expected number of params (2)"));
        fake.answer_with(
            "POST",
            MESSAGES,
            503,
            &[],
            "<html>Service Unavailable</html>",
        );

        let mut outcomes = Vec::new();
        for _ in 0..6 {
            outcomes.push(meta.send(&FROM, &message(text("Hi"))).await);
        }
        let results: Vec<&ProviderError> = outcomes
            .iter()
            .map(|o| o.result.as_ref().unwrap_err())
            .collect();
        assert_eq!(
            results[0],
            &ProviderError::Permanent {
                code: Some("131047".into()),
                message: "The customer's 24-hour window is closed: send an approved template instead. \
                          Meta says: More than 24 hours have passed since the customer last replied (Meta 131047)".into()
            }
        );
        assert!(
            matches!(results[1], ProviderError::Permanent { code: Some(code), message }
            if code == "131026" && message.contains("could not deliver") && message.contains("incapable"))
        );
        assert_eq!(
            results[2],
            &ProviderError::Retryable {
                code: Some("130429".into()),
                message: "Meta's throughput limit for this number was reached: the message will be retried. \
                          Meta says: Rate limit hit (Meta 130429)".into(),
                retry_after: Some(Duration::from_secs(30)),
            }
        );
        assert!(
            matches!(results[3], ProviderError::Auth { code: Some(code), message }
            if code == "190" && message.contains("access token has expired"))
        );
        assert!(
            matches!(results[4], ProviderError::Permanent { code: Some(code), message }
            if code == "132000" && message.contains("localizable_params"))
        );
        assert!(
            matches!(results[5], ProviderError::Retryable { code: Some(code), .. } if code == "503")
        );

        for outcome in &outcomes {
            let [call] = outcome.calls.as_slice() else {
                panic!("{:?}", outcome.calls)
            };
            assert_eq!(
                call.error,
                Some(outcome.result.as_ref().unwrap_err().to_string())
            );
            assert_no_secret(&outcome.calls, TOKEN);
        }
        assert_eq!(outcomes[2].calls[0].status, Some(429));
        assert_eq!(
            outcomes[5].calls[0].response_body.as_deref(),
            Some("<html>Service Unavailable</html>")
        );
    }

    #[tokio::test]
    async fn templates_are_listed_across_every_page() {
        let fake = FakeProvider::start("").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        let path = "/v25.0/102290129340398/message_templates";
        let template = |name: &str, status: &str| {
            json!({"name": name, "language": "en_US", "status": status, "category": "UTILITY", "id": format!("{name}-id"),
                   "components": [{"type": "BODY", "text": "Hi {{1}}"}]})
        };
        // Meta's `next` carries the token: it must be neither followed nor logged.
        let next = |after: &str| {
            format!(
                "https://graph.facebook.com/v25.0/{WABA}/message_templates?access_token={TOKEN}&limit=100&after={after}"
            )
        };
        fake.answer(
            "GET",
            path,
            200,
            json!({
                "data": [template("order_update", "APPROVED"), template("welcome", "PENDING")],
                "paging": {"cursors": {"before": "B1", "after": "CUR1"}, "next": next("CUR1")}
            }),
        );
        fake.answer(
            "GET",
            path,
            200,
            json!({
                "data": [template("promo", "REJECTED")],
                "paging": {"cursors": {"before": "B2", "after": "CUR2"}, "next": next("CUR2")}
            }),
        );
        fake.answer(
            "GET",
            path,
            200,
            json!({
                "data": [template("otp", "APPROVED")],
                "paging": {"cursors": {"before": "B3", "after": "CUR3"}}
            }),
        );

        let outcome = client(&http, &fake, &credentials)
            .list_templates(&FROM)
            .await;
        let listed = outcome.result.clone().unwrap();
        let names: Vec<(&str, TemplateStatus)> =
            listed.iter().map(|t| (t.name.as_str(), t.status)).collect();
        assert_eq!(
            names,
            [
                ("order_update", TemplateStatus::Approved),
                ("welcome", TemplateStatus::Pending),
                ("promo", TemplateStatus::Rejected),
                ("otp", TemplateStatus::Approved)
            ]
        );
        assert_eq!(
            listed[0].provider_template_id.as_deref(),
            Some("order_update-id")
        );
        assert_eq!(
            listed[0].components,
            json!([{"type": "BODY", "text": "Hi {{1}}"}])
        );

        let requests = fake.take_requests();
        let queries: Vec<&str> = requests.iter().map(|r| r.query.as_str()).collect();
        assert_eq!(
            queries,
            ["limit=100", "limit=100&after=CUR1", "limit=100&after=CUR2"]
        );
        assert!(requests.iter().all(|r| r.path == path
            && r.method == "GET"
            && r.header("authorization") == Some("Bearer EAAG-meta-secret-token")));
        assert_eq!(outcome.calls.len(), 3);
        assert!(
            outcome
                .calls
                .iter()
                .all(|call| call.path == path && call.request_body.is_none())
        );
        assert_no_secret(&outcome.calls, TOKEN);
    }

    #[tokio::test]
    async fn marking_read_posts_the_read_status() {
        let fake = FakeProvider::start("").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        fake.answer("POST", MESSAGES, 200, json!({"success": true}));
        let outcome = client(&http, &fake, &credentials)
            .mark_read(&FROM, "wamid.INBOUND")
            .await;
        assert_eq!(outcome.result, Ok(true));
        let [request] = fake.take_requests().try_into().unwrap();
        assert_eq!(request.path, MESSAGES);
        assert_eq!(
            request.header("authorization"),
            Some("Bearer EAAG-meta-secret-token")
        );
        assert_eq!(
            request.body,
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.INBOUND"})
        );
        assert_eq!(outcome.calls.len(), 1);
    }

    #[tokio::test]
    async fn the_typing_indicator_rides_on_the_read_status() {
        let fake = FakeProvider::start("").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        fake.answer("POST", MESSAGES, 200, json!({"success": true}));
        let outcome = client(&http, &fake, &credentials)
            .show_typing(
                &FROM,
                "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA",
            )
            .await;
        assert_eq!(outcome.result, Ok(true));
        let [request] = fake.take_requests().try_into().unwrap();
        assert_eq!(request.path, MESSAGES);
        // The request of developers.facebook.com/documentation/business-messaging/whatsapp/typing-indicators/
        assert_eq!(
            request.body,
            json!({"messaging_product": "whatsapp", "status": "read",
                   "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA",
                   "typing_indicator": {"type": "text"}})
        );
    }

    #[tokio::test]
    async fn what_cannot_be_sent_is_refused_before_any_call() {
        let fake = FakeProvider::start("").await;
        let http = crate::egress::HttpClient::local();
        let credentials = credentials();
        let meta = client(&http, &fake, &credentials);
        let no_id = SenderNumber {
            phone: "15550001111",
            provider_number_id: None,
        };
        let outcome = meta.send(&no_id, &message(text("Hi"))).await;
        assert!(
            matches!(outcome.result, Err(ProviderError::Permanent { ref message, .. })
            if message.contains("no Meta phone number id"))
        );
        assert!(outcome.calls.is_empty());

        let no_token = Credentials {
            waba_id: Some(WABA.into()),
            ..Credentials::default()
        };
        let outcome = client(&http, &fake, &no_token).list_templates(&FROM).await;
        assert_eq!(
            outcome.result,
            Err(ProviderError::Auth {
                code: None,
                message:
                    "the Meta connection has no access token: add it in the connection settings"
                        .into()
            })
        );

        let outcome = meta.send(&FROM, &message(text(""))).await;
        assert_eq!(
            outcome.result,
            Err(ProviderError::Permanent {
                code: None,
                message: "the message is not valid: text must not be empty".into()
            })
        );
        assert!(outcome.calls.is_empty());
        assert!(fake.take_requests().is_empty());
    }
}
