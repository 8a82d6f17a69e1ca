//! Meta's template webhooks: a `message_template_status_update` value as a
//! [`TemplateStatusUpdate`] (or a lock), `message_template_quality_update` and
//! `template_category_update` as the template's new quality and category.

use serde_json::Value;
use wacrm_domain::inbound::{
    InboundEvent, TemplateCategoryUpdate, TemplateLockUpdate, TemplateQualityUpdate, TemplateRef,
    TemplateStatus, TemplateStatusUpdate,
};

use crate::webhook::{ParseError, json};

/// A status update as its event: `LOCKED` / `UNLOCKED` say whether the template may be
/// edited (it can still be sent), so they change the lock, not the status; the others
/// are [`parse_template_update`]'s.
pub(crate) fn parse_template_event(value: &Value) -> Result<Option<InboundEvent>, ParseError> {
    let what = "a template status update";
    let event = json::required_text(value, "event", what)?;
    let locked = match event.trim().to_ascii_uppercase().as_str() {
        "LOCKED" => true,
        "UNLOCKED" => false,
        _ => return Ok(parse_template_update(value)?.map(InboundEvent::TemplateStatus)),
    };
    Ok(Some(InboundEvent::TemplateLock(TemplateLockUpdate {
        template: template_ref(value, what)?,
        locked,
    })))
}

/// `message_template_quality_update`: `new_quality_score` (GREEN, YELLOW, RED, UNKNOWN).
pub(crate) fn parse_template_quality(
    value: &Value,
) -> Result<Option<TemplateQualityUpdate>, ParseError> {
    let what = "a template quality update";
    let Some(score) = json::text(value, "new_quality_score") else {
        return Ok(None);
    };
    Ok(Some(TemplateQualityUpdate {
        template: template_ref(value, what)?,
        score: score.trim().to_ascii_uppercase(),
        previous: json::text(value, "previous_quality_score"),
    }))
}

/// `template_category_update`: the category Meta moved the template to (`new_category`).
/// A value that only announces a future change (`correct_category`, no `new_category`)
/// changes nothing yet.
pub(crate) fn parse_template_category(
    value: &Value,
) -> Result<Option<TemplateCategoryUpdate>, ParseError> {
    let what = "a template category update";
    let Some(category) = json::text(value, "new_category") else {
        return Ok(None);
    };
    Ok(Some(TemplateCategoryUpdate {
        template: template_ref(value, what)?,
        category: category.trim().to_ascii_uppercase(),
        previous: json::text(value, "previous_category"),
    }))
}

fn template_ref(value: &Value, what: &str) -> Result<TemplateRef, ParseError> {
    Ok(TemplateRef {
        name: json::required_text(value, "message_template_name", what)?,
        language: json::text(value, "message_template_language"),
        provider_template_id: json::text(value, "message_template_id"),
    })
}

/// The update, or `None` for an event that is not a status the domain keeps
/// (`UNARCHIVED`, whose status is "what it was before", and whatever Meta adds later):
/// the template's status did not change to anything we could store. The hourly sync
/// brings an unarchived template's status back.
pub(crate) fn parse_template_update(
    value: &Value,
) -> Result<Option<TemplateStatusUpdate>, ParseError> {
    let what = "a template status update";
    let event = json::required_text(value, "event", what)?;
    let Some(status) = template_status(&event) else {
        return Ok(None);
    };
    Ok(Some(TemplateStatusUpdate {
        name: json::required_text(value, "message_template_name", what)?,
        language: json::text(value, "message_template_language"),
        provider_template_id: json::text(value, "message_template_id"),
        status,
        reason: reason(value),
    }))
}

/// Meta's event names, as the domain's statuses. `REINSTATED` means the template may be
/// sent again, i.e. approved; `PENDING_DELETION` cannot be sent any more and will not
/// come back, i.e. deleted.
pub(crate) fn template_status(event: &str) -> Option<TemplateStatus> {
    match event.trim().to_ascii_uppercase().as_str() {
        "REINSTATED" => Some(TemplateStatus::Approved),
        "PENDING_DELETION" => Some(TemplateStatus::Deleted),
        other => TemplateStatus::parse(other),
    }
}

/// Meta writes `reason: "NONE"` when there is none; a pause explains itself in
/// `other_info`, an invalid format in `rejection_info`.
fn reason(value: &Value) -> Option<String> {
    let stated = json::text(value, "reason").filter(|reason| !reason.eq_ignore_ascii_case("none"));
    let explained =
        |key: &str, field: &str| value.get(key).and_then(|info| json::text(info, field));
    stated
        .or_else(|| explained("other_info", "description"))
        .or_else(|| explained("rejection_info", "reason"))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};
    use wacrm_domain::inbound::{
        InboundEvent, TemplateQualityUpdate, TemplateRef, TemplateStatus, TemplateStatusUpdate,
    };

    use crate::meta::webhook::parse;

    fn updates(value: Value) -> Vec<TemplateStatusUpdate> {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "time": 1750263773, "changes": [
                {"value": value, "field": "message_template_status_update"}
            ]}]
        });
        parse(
            &body,
            DateTime::<Utc>::from_timestamp(1_750_000_000, 0).unwrap(),
        )
        .unwrap()
        .into_iter()
        .map(|event| match event {
            InboundEvent::TemplateStatus(update) => update,
            other => panic!("expected a template update, got {other:?}"),
        })
        .collect()
    }

    #[test]
    fn approved() {
        let seen = updates(json!({
            "event": "APPROVED",
            "message_template_id": 1_689_556_908_129_832_i64,
            "message_template_name": "order_confirmation",
            "message_template_language": "en_US",
            "reason": "NONE",
            "message_template_category": "UTILITY"
        }));
        assert_eq!(
            seen,
            vec![TemplateStatusUpdate {
                name: "order_confirmation".into(),
                language: Some("en_US".into()),
                provider_template_id: Some("1689556908129832".into()),
                status: TemplateStatus::Approved,
                reason: None,
            }]
        );
    }

    #[test]
    fn rejected_with_a_reason() {
        let seen = updates(json!({
            "event": "REJECTED", "message_template_id": 123, "message_template_name": "summer_sale",
            "message_template_language": "en", "reason": "INVALID_FORMAT",
            "rejection_info": {"reason": "Variables at the start", "recommendation": "Move the variable"}
        }));
        assert_eq!(seen[0].status, TemplateStatus::Rejected);
        assert_eq!(seen[0].reason.as_deref(), Some("INVALID_FORMAT"));
    }

    #[test]
    fn paused_explains_itself_in_other_info() {
        let seen = updates(json!({
            "event": "PAUSED", "message_template_id": 123, "message_template_name": "summer_sale",
            "message_template_language": "en", "reason": "NONE",
            "other_info": {"title": "FIRST_PAUSE", "description": "Your WhatsApp message template has been paused for 3 hours."}
        }));
        assert_eq!(seen[0].status, TemplateStatus::Paused);
        assert_eq!(
            seen[0].reason.as_deref(),
            Some("Your WhatsApp message template has been paused for 3 hours.")
        );
    }

    #[test]
    fn disabled_flagged_reinstated_and_pending_deletion() {
        let status = |event: &str| {
            updates(json!({"event": event, "message_template_name": "t", "message_template_language": "en"}))
                .first()
                .map(|update| update.status)
        };
        assert_eq!(status("DISABLED"), Some(TemplateStatus::Disabled));
        assert_eq!(status("FLAGGED"), Some(TemplateStatus::Flagged));
        assert_eq!(status("IN_APPEAL"), Some(TemplateStatus::InAppeal));
        assert_eq!(status("REINSTATED"), Some(TemplateStatus::Approved));
        assert_eq!(status("PENDING_DELETION"), Some(TemplateStatus::Deleted));
        assert_eq!(status("ARCHIVED"), Some(TemplateStatus::Archived));
        assert_eq!(
            status("LIMIT_EXCEEDED"),
            Some(TemplateStatus::LimitExceeded)
        );
        assert_eq!(status("UNARCHIVED"), None);
    }

    fn events(field: &str, value: Value) -> Vec<InboundEvent> {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "time": 1674864290, "changes": [{"value": value, "field": field}]}]
        });
        parse(
            &body,
            DateTime::<Utc>::from_timestamp(1_750_000_000, 0).unwrap(),
        )
        .unwrap()
    }

    /// Shape of pywa's `tests/data/updates/template_quality_update.json` (david-lev/pywa).
    #[test]
    fn a_quality_update_names_the_new_score() {
        let seen = events(
            "message_template_quality_update",
            json!({
                "previous_quality_score": "GREEN", "new_quality_score": "YELLOW",
                "message_template_id": 806_312_974_732_579_i64,
                "message_template_name": "welcome_template", "message_template_language": "en_US"
            }),
        );
        assert_eq!(
            seen,
            vec![InboundEvent::TemplateQuality(TemplateQualityUpdate {
                template: TemplateRef {
                    name: "welcome_template".into(),
                    language: Some("en_US".into()),
                    provider_template_id: Some("806312974732579".into()),
                },
                score: "YELLOW".into(),
                previous: Some("GREEN".into()),
            })]
        );
    }

    /// Shape of pywa's `tests/data/updates/template_category_update.json`.
    #[test]
    fn a_category_update_names_the_new_category() {
        let seen = events(
            "template_category_update",
            json!({
                "message_template_id": 12_345_678, "message_template_name": "my_message_template",
                "message_template_language": "he", "new_category": "MARKETING"
            }),
        );
        let [InboundEvent::TemplateCategory(update)] = seen.as_slice() else {
            panic!("{seen:?}")
        };
        assert_eq!(update.category, "MARKETING");
        assert_eq!(update.template.name, "my_message_template");
        assert_eq!(update.template.language.as_deref(), Some("he"));
    }

    #[test]
    fn locked_and_unlocked_change_the_lock_not_the_status() {
        let lock = |event: &str| {
            events(
                "message_template_status_update",
                json!({"event": event, "message_template_id": 1, "message_template_name": "t",
                       "message_template_language": "en", "reason": "NONE",
                       "other_info": {"title": "LOCKED", "description": "locked for edits"}}),
            )
        };
        let locked = lock("LOCKED");
        let [InboundEvent::TemplateLock(locked)] = locked.as_slice() else {
            panic!("not a lock: {locked:?}")
        };
        assert!(locked.locked);
        assert_eq!(locked.template.name, "t");
        let unlocked = lock("UNLOCKED");
        let [InboundEvent::TemplateLock(unlocked)] = unlocked.as_slice() else {
            panic!("not a lock: {unlocked:?}")
        };
        assert!(!unlocked.locked);
    }

    #[test]
    fn a_known_event_without_a_name_is_a_shape_error() {
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
            {"field": "message_template_status_update", "value": {"event": "APPROVED", "message_template_id": 1}}
        ]}]});
        let error = parse(&body, DateTime::<Utc>::from_timestamp(0, 0).unwrap()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a template status update has no `message_template_name`"
        );
    }
}
