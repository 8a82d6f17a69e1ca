//! Templates registered by hand (`source: "manual"`), for connections whose provider
//! lists no templates (TATA, or any provider whose list misses one): without a stored
//! template the outbox refuses every template send, so nothing could reach a customer
//! once the 24-hour window closes.
//!
//! The admin asserts the provider approved the template (status defaults to
//! `APPROVED`); wacrm cannot check it. A sync never overwrites or deletes a manual
//! template, and a template-status webhook updates it like a synced one. Synced
//! templates belong to the provider: editing or deleting one here is refused.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, patch, post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::templates::{self, ManualTemplateChanges, NewManualTemplate};
use wacrm_persistence::{StoreError, connections};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::routes::templates::TemplateResponse;
use crate::state::AppState;

const CATEGORIES: [&str; 3] = ["MARKETING", "UTILITY", "AUTHENTICATION"];
const STATUSES: [&str; 5] = ["APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED"];
const COMPONENT_TYPES: [&str; 4] = ["HEADER", "BODY", "FOOTER", "BUTTONS"];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTemplateRequest {
    pub connection_id: Uuid,
    /// As the provider knows it: lowercase letters, digits and underscores.
    #[schema(min_length = 1, max_length = 512, pattern = "^[a-z0-9_]+$")]
    pub name: String,
    /// The language code the provider approved it in, e.g. `en` or `en_US`:
    /// letters, with `_` between parts.
    #[schema(min_length = 2, max_length = 16, pattern = "^[A-Za-z]+(_[A-Za-z]+)*$")]
    pub language: String,
    /// MARKETING, UTILITY or AUTHENTICATION (any case).
    #[schema(
        pattern = r"^[ \t\n\r]*([Mm][Aa][Rr][Kk][Ee][Tt][Ii][Nn][Gg]|[Uu][Tt][Ii][Ll][Ii][Tt][Yy]|[Aa][Uu][Tt][Hh][Ee][Nn][Tt][Ii][Cc][Aa][Tt][Ii][Oo][Nn])[ \t\n\r]*$"
    )]
    pub category: String,
    /// Meta-shaped components: `[{type: "BODY", text: "Hi {{1}}"}, {type: "HEADER",
    /// format: "IMAGE"}, {type: "FOOTER", text}, {type: "BUTTONS", buttons: [...]}]`.
    /// The parameters a send needs are derived from them.
    #[schema(value_type = Vec<Object>)]
    pub components: Value,
    /// Defaults to APPROVED: the admin asserts the provider approved the template.
    /// APPROVED, PENDING, REJECTED, PAUSED or DISABLED (any case).
    #[schema(
        pattern = r"^[ \t\n\r]*([Aa][Pp][Pp][Rr][Oo][Vv][Ee][Dd]|[Pp][Ee][Nn][Dd][Ii][Nn][Gg]|[Rr][Ee][Jj][Ee][Cc][Tt][Ee][Dd]|[Pp][Aa][Uu][Ss][Ee][Dd]|[Dd][Ii][Ss][Aa][Bb][Ll][Ee][Dd])[ \t\n\r]*$"
    )]
    pub status: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTemplateRequest {
    /// MARKETING, UTILITY or AUTHENTICATION (any case).
    #[schema(
        pattern = r"^[ \t\n\r]*([Mm][Aa][Rr][Kk][Ee][Tt][Ii][Nn][Gg]|[Uu][Tt][Ii][Ll][Ii][Tt][Yy]|[Aa][Uu][Tt][Hh][Ee][Nn][Tt][Ii][Cc][Aa][Tt][Ii][Oo][Nn])[ \t\n\r]*$"
    )]
    pub category: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub components: Option<Value>,
    /// APPROVED, PENDING, REJECTED, PAUSED or DISABLED (any case).
    #[schema(
        pattern = r"^[ \t\n\r]*([Aa][Pp][Pp][Rr][Oo][Vv][Ee][Dd]|[Pp][Ee][Nn][Dd][Ii][Nn][Gg]|[Rr][Ee][Jj][Ee][Cc][Tt][Ee][Dd]|[Pp][Aa][Uu][Ss][Ee][Dd]|[Dd][Ii][Ss][Aa][Bb][Ll][Ee][Dd])[ \t\n\r]*$"
    )]
    pub status: Option<String>,
}

/// Register a template by hand, for a provider that has no template list.
#[utoipa::path(tag = "templates", request_body = CreateTemplateRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = TemplateResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`already_exists`: the connection has a template with this name and language", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`validation_failed` with field errors", body = Problem, content_type = "application/problem+json"),
))]
#[post("/templates")]
pub async fn create_template(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateTemplateRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_TEMPLATE_LOAD)?;
    let request = body.into_inner();
    let mut errors = Vec::new();
    check_name(&mut errors, &request.name);
    check_language(&mut errors, &request.language);
    let category = choice(&mut errors, "category", &request.category, &CATEGORIES);
    let status = match &request.status {
        Some(status) => choice(&mut errors, "status", status, &STATUSES),
        None => "APPROVED".to_owned(),
    };
    check_components(&mut errors, &request.components);
    let mut conn = state.conn().await?;
    match connections::find(&mut conn, &state.cipher, request.connection_id).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => errors.push(field(
            "connection_id",
            "names no existing connection".into(),
        )),
        Err(other) => return Err(other.into()),
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let created = templates::insert_manual(
        &mut conn,
        NewManualTemplate {
            id: Uuid::now_v7(),
            connection_id: request.connection_id,
            name: request.name.clone(),
            language: request.language.clone(),
            category: Some(category),
            status,
            components: request.components,
            source: templates::SOURCE_MANUAL.to_owned(),
        },
    )
    .await
    .map_err(|error| match error {
        StoreError::Conflict(_) => ApiError::new(
            StatusCode::CONFLICT,
            "already_exists",
            format!(
                "the connection already has a template named {} in {}",
                request.name, request.language
            ),
        ),
        other => other.into(),
    })?;
    Ok(HttpResponse::Created().json(TemplateResponse::from(created)))
}

/// Change a manual template's category, components or status.
#[utoipa::path(tag = "templates", params(("id" = Uuid, Path)), request_body = UpdateTemplateRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = TemplateResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`template_not_manual`: synced templates belong to the provider", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`validation_failed` with field errors", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/templates/{id}")]
pub async fn update_template(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateTemplateRequest>,
) -> ApiResult<web::Json<TemplateResponse>> {
    principal.require(Permission::WHATSAPP_TEMPLATE_LOAD)?;
    let request = body.into_inner();
    let mut errors = Vec::new();
    let category = request
        .category
        .as_deref()
        .map(|category| choice(&mut errors, "category", category, &CATEGORIES));
    let status = request
        .status
        .as_deref()
        .map(|status| choice(&mut errors, "status", status, &STATUSES));
    if let Some(components) = &request.components {
        check_components(&mut errors, components);
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut conn = state.conn().await?;
    manual(&mut conn, *id).await?;
    let changes = ManualTemplateChanges {
        category,
        status,
        components: request.components,
        updated_at: None,
    };
    Ok(web::Json(
        templates::update_manual(&mut conn, *id, changes)
            .await?
            .into(),
    ))
}

/// Delete a manual template.
#[utoipa::path(tag = "templates", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204, description = "deleted"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`template_not_manual`: synced templates belong to the provider", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/templates/{id}")]
pub async fn delete_template(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_TEMPLATE_LOAD)?;
    let mut conn = state.conn().await?;
    manual(&mut conn, *id).await?;
    templates::delete_manual(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// 404 for no template, 409 `template_not_manual` for a synced one.
async fn manual(conn: &mut wacrm_persistence::AsyncPgConnection, id: Uuid) -> ApiResult<()> {
    let template = templates::find(conn, id).await?;
    if template.source != templates::SOURCE_MANUAL {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "template_not_manual",
            "this template is synced from the provider: change it there, the next sync brings it here",
        ));
    }
    Ok(())
}

fn field(name: &str, message: String) -> FieldError {
    FieldError {
        field: name.to_owned(),
        message,
    }
}

/// Exactly the document's pattern: no spaces around it either (the name is
/// matched against the provider's as it is).
fn check_name(errors: &mut Vec<FieldError>, name: &str) {
    let valid = name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
    if name.is_empty() || name.len() > 512 || !valid {
        errors.push(field(
            "name",
            "must be 1 to 512 lowercase letters, digits and underscores".into(),
        ));
    }
}

/// `en`, `en_US`, `pt_BR`, `zh_HK`: letters, with one `_` between parts, 2 to 16
/// characters (the document's pattern exactly).
fn check_language(errors: &mut Vec<FieldError>, language: &str) {
    let valid = (2..=16).contains(&language.len())
        && language
            .split('_')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphabetic()));
    if !valid {
        errors.push(field(
            "language",
            "must be a language code such as en or en_US".into(),
        ));
    }
}

/// The value upper-cased when it is one of `allowed`, else a field error.
fn choice(errors: &mut Vec<FieldError>, name: &str, value: &str, allowed: &[&str]) -> String {
    let upper = value.trim().to_ascii_uppercase();
    if !allowed.contains(&upper.as_str()) {
        errors.push(field(
            name,
            format!("must be one of {}", allowed.join(", ")),
        ));
    }
    upper
}

/// Meta's component shape, one BODY with text, and positional placeholders
/// numbered 1, 2, … without a gap (the count a send must fill is derived from them).
fn check_components(errors: &mut Vec<FieldError>, components: &Value) {
    let Some(list) = components.as_array() else {
        errors.push(field("components", "must be an array of components".into()));
        return;
    };
    let mut bodies = 0;
    for (index, component) in list.iter().enumerate() {
        let name = format!("components[{index}]");
        let kind = component
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .unwrap_or_default();
        if !COMPONENT_TYPES.contains(&kind.as_str()) {
            errors.push(field(
                &format!("{name}.type"),
                "must be HEADER, BODY, FOOTER or BUTTONS".into(),
            ));
            continue;
        }
        if list[..index].iter().any(|earlier| {
            earlier
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|earlier| earlier.eq_ignore_ascii_case(&kind))
        }) {
            errors.push(field(
                &format!("{name}.type"),
                format!("{kind} is given twice"),
            ));
        }
        let text = component.get("text").and_then(Value::as_str);
        match kind.as_str() {
            "BODY" => {
                bodies += 1;
                match text.filter(|text| !text.trim().is_empty()) {
                    None => errors.push(field(&format!("{name}.text"), "is required".into())),
                    Some(text) => {
                        if let Err(message) = positional(text) {
                            errors.push(field(&format!("{name}.text"), message));
                        }
                    }
                }
            }
            "FOOTER" if text.is_none_or(|text| text.trim().is_empty()) => {
                errors.push(field(&format!("{name}.text"), "is required".into()));
            }
            "BUTTONS" if !component.get("buttons").is_some_and(Value::is_array) => {
                errors.push(field(&format!("{name}.buttons"), "must be an array".into()));
            }
            _ => {}
        }
    }
    if bodies == 0 {
        errors.push(field(
            "components",
            "must hold a BODY component with its text".into(),
        ));
    }
}

/// `{{1}}`, `{{2}}`, … must run from 1 without a gap.
fn positional(text: &str) -> Result<(), String> {
    let mut numbers = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        if let Ok(number) = after[..end].trim().parse::<usize>() {
            numbers.insert(number);
        }
        rest = &after[end + 2..];
    }
    match numbers.iter().enumerate().find(|(i, n)| **n != i + 1) {
        Some((i, _)) => Err(format!(
            "placeholders must be numbered {{{{1}}}} to {{{{{}}}}} without a gap",
            numbers.len().max(i + 1)
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(components: Value) -> Vec<String> {
        let mut errors = Vec::new();
        check_components(&mut errors, &components);
        errors.into_iter().map(|error| error.field).collect()
    }

    #[test]
    fn components_need_one_body_and_numbered_placeholders() {
        assert!(fields(json!([{"type": "BODY", "text": "Hi {{1}}, order {{2}}"}])).is_empty());
        assert_eq!(
            fields(json!([{"type": "BODY", "text": "Hi {{2}}"}])),
            ["components[0].text"]
        );
        assert_eq!(
            fields(json!([{"type": "FOOTER", "text": "x"}])),
            ["components"]
        );
        assert_eq!(
            fields(json!([{"type": "BODY", "text": "a"}, {"type": "CAROUSEL"}])),
            ["components[1].type"]
        );
        assert_eq!(fields(json!({"type": "BODY"})), ["components"]);
    }
}
