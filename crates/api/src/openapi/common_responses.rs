//! The problems every route can answer, declared once: which ones an operation gets
//! follows from what it takes (a credential, path parameters, a query, a body), so a
//! new route is documented exactly without repeating a dozen response lines.
//!
//! A route's own declaration of a status wins: it can say more about its 404 or 422.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder,
};

use crate::error::Problem;

/// `(status, component name, what it means)`: one shared response per status.
const RESPONSES: [(u16, &str, &str); 10] = [
    (
        400,
        "BadRequest",
        "`malformed_json`, `invalid_body`, `invalid_query`, `invalid_cursor` or `invalid_path`",
    ),
    (
        401,
        "Unauthorized",
        "`unauthenticated`, `invalid_token`, `token_expired`, `session_revoked`, `invalid_api_key`, `api_key_expired` or `api_key_creator_inactive`",
    ),
    (
        403,
        "Forbidden",
        "`permission_denied`, naming the permission",
    ),
    (404, "NotFound", "`not_found`"),
    (413, "PayloadTooLarge", "`payload_too_large`"),
    (
        415,
        "UnsupportedMediaType",
        "`unsupported_media_type`: send `application/json`",
    ),
    (
        422,
        "UnprocessableEntity",
        "`validation_failed` (with `errors[]`), `invalid_reference` or `invalid_character`",
    ),
    (
        429,
        "TooManyRequests",
        "`too_many_requests`, with `Retry-After`",
    ),
    (
        500,
        "InternalError",
        "`internal_error`: nothing internal, only the `request_id`",
    ),
    (
        503,
        "Unavailable",
        "`database_unavailable`, or `query_timeout` (a statement ran past `WACRM_API_STATEMENT_TIMEOUT_MS`; with `Retry-After`)",
    ),
];

/// Adds the shared problem responses to the components and to every operation.
pub fn apply(document: &mut Document) {
    let components = document
        .components
        .get_or_insert_with(|| ComponentsBuilder::new().build());
    for (_, name, description) in RESPONSES {
        components
            .responses
            .insert(name.to_owned(), RefOr::T(problem(description)));
    }
    for (path, item) in document.paths.paths.iter_mut() {
        for operation in super::operations_mut(item) {
            for status in statuses(path, operation) {
                let Some((_, name, _)) = RESPONSES.iter().find(|(s, _, _)| *s == status) else {
                    continue;
                };
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
            }
        }
    }
}

/// The statuses an operation can answer besides its own, from what it takes.
fn statuses(path: &str, operation: &Operation) -> Vec<u16> {
    let mut statuses = Vec::new();
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let takes = |place: ParameterIn| {
        parameters
            .iter()
            .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place))
    };
    let authenticated = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    if takes(ParameterIn::Query) || takes(ParameterIn::Path) || operation.request_body.is_some() {
        statuses.push(400);
    }
    if authenticated {
        statuses.extend([401, 403]);
    }
    if takes(ParameterIn::Path) {
        statuses.push(404);
    }
    if operation.request_body.is_some() {
        statuses.extend([413, 415, 422]);
    } else if takes(ParameterIn::Query) && path.starts_with("/api/") {
        // Query text is checked like body text (a NUL character is refused).
        statuses.push(422);
    }
    statuses.push(500);
    // Everything but the liveness probe and the metrics reads the database.
    if !matches!(path, "/healthz" | "/metrics") {
        statuses.push(503);
    }
    statuses
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(
                    <Problem as utoipa::ToSchema>::name(),
                )))
                .build(),
        )
        .build()
}
