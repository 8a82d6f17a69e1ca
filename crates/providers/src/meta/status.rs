//! One Meta-shaped status object (`statuses[]`) as a [`StatusUpdate`] on a message we sent.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wacrm_domain::MessageStatus;
use wacrm_domain::inbound::{NumberRef, ProviderError, StatusChange, StatusUpdate};

use crate::webhook::{ParseError, json, time};

/// The update, or `None` for a status this code does not know: a new status Meta adds
/// must not turn the whole webhook into an error that it would retry for days.
pub(crate) fn parse_status(
    status: &Value,
    number: &NumberRef,
    received_at: DateTime<Utc>,
) -> Result<Option<StatusUpdate>, ParseError> {
    let id = json::required_text(status, "id", "a status")?;
    let what = format!("the status of {id}");
    let name = json::required_text(status, "status", &what)?;
    let Some(change) = status_change(&name) else {
        return Ok(None);
    };
    Ok(Some(StatusUpdate {
        number: number.clone(),
        provider_message_id: id,
        status: change,
        at: time::at_or(status.get("timestamp"), received_at, &what)?,
        recipient: json::text(status, "recipient_id"),
        errors: provider_errors(json::list(status, "errors", &what)?),
        billing: billing(status),
        other_ids: Vec::new(),
    }))
}

/// `sent`, `delivered`, `read`, `failed` (any case) move a message; `deleted` (the
/// customer deleted it; Lipachat and Meta's on-premises API report it) is history only.
pub(crate) fn status_change(name: &str) -> Option<StatusChange> {
    if name.trim().eq_ignore_ascii_case("deleted") {
        return Some(StatusChange::Deleted);
    }
    MessageStatus::parse(name).map(StatusChange::To)
}

/// Errors as the provider stated them. Meta writes `{code, title, message,
/// error_data.details}`; the flat providers' variants (`errorCode`, `description`, a bare
/// string) are read too. The detail is the most specific sentence there is.
pub(crate) fn provider_errors(errors: &[Value]) -> Vec<ProviderError> {
    errors.iter().filter_map(provider_error).collect()
}

fn provider_error(error: &Value) -> Option<ProviderError> {
    if let Some(text) = json::as_text(error) {
        return Some(ProviderError {
            code: "unknown".to_owned(),
            title: text,
            detail: None,
        });
    }
    if !error.is_object() {
        return None;
    }
    let code = json::first_text(error, &["code", "errorCode", "error_code"])
        .unwrap_or_else(|| "unknown".to_owned());
    let message = json::first_text(
        error,
        &["message", "errorMessage", "error_message", "description"],
    );
    let title = json::text(error, "title")
        .or_else(|| message.clone())
        .unwrap_or_else(|| format!("error {code}"));
    let details = error
        .get("error_data")
        .and_then(|data| json::text(data, "details"));
    let detail = details
        .or_else(|| json::text(error, "details"))
        .or_else(|| message.filter(|message| *message != title));
    Some(ProviderError {
        code,
        title,
        detail,
    })
}

/// Meta's `conversation` and `pricing`, kept together for the billing report.
fn billing(status: &Value) -> Option<Value> {
    let conversation = status.get("conversation").filter(|value| !value.is_null());
    let pricing = status.get("pricing").filter(|value| !value.is_null());
    if conversation.is_none() && pricing.is_none() {
        return None;
    }
    Some(json!({"conversation": conversation, "pricing": pricing}))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};
    use wacrm_domain::MessageStatus;
    use wacrm_domain::inbound::{
        InboundEvent, NumberRef, ProviderError, StatusChange, StatusUpdate,
    };

    use crate::meta::webhook::parse;

    fn received() -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_300_000, 0).unwrap()
    }

    fn statuses(statuses: Value) -> Vec<StatusUpdate> {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                "statuses": statuses
            }}]}]
        });
        parse(&body, received())
            .unwrap()
            .into_iter()
            .map(|event| match event {
                InboundEvent::Status(status) => status,
                other => panic!("expected a status, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn delivered_with_conversation_and_pricing() {
        let updates = statuses(json!([{
            "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NkEzMjhCRTNDMkY2QjhBNjQA",
            "status": "delivered",
            "timestamp": "1750263773",
            "recipient_id": "16505551234",
            "conversation": {"id": "d0f3d1a3e6d0c4b1f9d7e8b6a5c4d3e2", "origin": {"type": "utility"}},
            "pricing": {"billable": true, "pricing_model": "PMP", "category": "utility", "type": "regular"}
        }]));
        assert_eq!(
            updates,
            vec![StatusUpdate {
                number: NumberRef::ProviderId("106540352242922".into()),
                provider_message_id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NkEzMjhCRTNDMkY2QjhBNjQA"
                    .into(),
                status: StatusChange::To(MessageStatus::Delivered),
                at: DateTime::from_timestamp(1_750_263_773, 0).unwrap(),
                recipient: Some("16505551234".into()),
                errors: vec![],
                billing: Some(json!({
                    "conversation": {"id": "d0f3d1a3e6d0c4b1f9d7e8b6a5c4d3e2", "origin": {"type": "utility"}},
                    "pricing": {"billable": true, "pricing_model": "PMP", "category": "utility", "type": "regular"}
                })),
                other_ids: vec![],
            }]
        );
    }

    #[test]
    fn read_has_no_billing() {
        let updates = statuses(json!([{
            "id": "wamid.R", "status": "read", "timestamp": "1750263800", "recipient_id": "16505551234"
        }]));
        assert_eq!(updates[0].status, StatusChange::To(MessageStatus::Read));
        assert_eq!(updates[0].billing, None);
    }

    #[test]
    fn failed_keeps_every_error() {
        let updates = statuses(json!([{
            "id": "wamid.F", "status": "failed", "timestamp": "1750263900", "recipient_id": "16505551234",
            "errors": [{
                "code": 131047,
                "title": "Re-engagement message",
                "message": "Re-engagement message",
                "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
            }, {
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message Undeliverable."
            }]
        }]));
        assert_eq!(updates[0].status, StatusChange::To(MessageStatus::Failed));
        assert_eq!(
            updates[0].errors,
            vec![
                ProviderError {
                    code: "131047".into(),
                    title: "Re-engagement message".into(),
                    detail: Some("Message failed to send because more than 24 hours have passed since the customer last replied to this number.".into()),
                },
                ProviderError {
                    code: "131026".into(),
                    title: "Message undeliverable".into(),
                    detail: Some("Message Undeliverable.".into()),
                },
            ]
        );
    }

    #[test]
    fn deleted_is_history_and_unknown_statuses_are_skipped() {
        let updates = statuses(json!([
            {"id": "wamid.D", "status": "deleted", "timestamp": "1750263900", "recipient_id": "16505551234"},
            {"id": "wamid.W", "status": "warning", "timestamp": "1750263900", "recipient_id": "16505551234"},
            {"id": "wamid.S", "status": "sent", "timestamp": "1750263900", "recipient_id": "16505551234"}
        ]));
        let seen: Vec<(&str, StatusChange)> = updates
            .iter()
            .map(|update| (update.provider_message_id.as_str(), update.status))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("wamid.D", StatusChange::Deleted),
                ("wamid.S", StatusChange::To(MessageStatus::Sent))
            ]
        );
    }

    #[test]
    fn a_status_without_id_or_status_is_a_shape_error() {
        let body = |status: Value| {
            json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
                {"field": "messages", "value": {"metadata": {"phone_number_id": "1"}, "statuses": [status]}}
            ]}]})
        };
        let error = parse(
            &body(json!({"status": "sent", "timestamp": "1"})),
            received(),
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "a status has no `id`");
        let error = parse(
            &body(json!({"id": "wamid.1", "timestamp": "1"})),
            received(),
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "the status of wamid.1 has no `status`");
    }
}
