//! Sending: into a conversation, or to a phone number (starting a conversation).

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::outbound::{Interactive, Media, OutboundContent};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::routes::messages::MessageResponse;
use crate::sending::{self, Outgoing, Recipient};
use crate::state::AppState;

/// What to send. The content sits under a key named like its type, as in
/// Meta's API: `{"type": "text", "text": "Hi"}`, `{"type": "template",
/// "template": {"name", "language", "header"?, "body_params"?, "button_params"?}}`,
/// `{"type": "image", "image": {"link" | "media_id", "caption"?}}`, …
#[derive(Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentRequest {
    Text {
        #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
        text: String,
        #[serde(default)]
        preview_url: bool,
    },
    Template {
        template: TemplateRequest,
    },
    Image {
        #[schema(value_type = CaptionedMedia)]
        image: Media,
    },
    Audio {
        #[schema(value_type = UncaptionedMedia)]
        audio: Media,
    },
    Video {
        #[schema(value_type = CaptionedMedia)]
        video: Media,
    },
    Document {
        #[schema(value_type = DocumentMedia)]
        document: Media,
    },
    Sticker {
        #[schema(value_type = UncaptionedMedia)]
        sticker: Media,
    },
    Location {
        location: LocationRequest,
    },
    Contacts {
        /// Contact cards as Meta documents them (each with `name.formatted_name`).
        #[schema(min_items = 1)]
        contacts: Vec<Value>,
    },
    Interactive {
        /// `{"kind": "buttons" | "list" | "cta_url" | "flow", ...}`.
        interactive: Interactive,
    },
    Reaction {
        reaction: ReactionRequest,
    },
}

/// A property only other media carry: absent or `null` (schema only).
fn absent() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .description(Some("not for this kind of media: leave it out"))
        .build()
}

/// Media by its public `link` or by a provider `media_id`, exactly one of them
/// (schema only: the handler reads the domain's `Media`).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum CaptionedMedia {
    Link(MediaLink),
    Id(MediaId),
}

/// Audio and stickers: as [`CaptionedMedia`], without a caption (422 if given).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum UncaptionedMedia {
    Link(UncaptionedMediaLink),
    Id(UncaptionedMediaId),
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct MediaLink {
    /// An `http(s)://` URL the provider fetches.
    #[schema(pattern = r"^ *[Hh][Tt][Tt][Pp][Ss]?://[^/\s]")]
    link: String,
    #[schema(max_length = 1024)]
    caption: Option<String>,
    /// Documents only.
    #[schema(schema_with = absent)]
    filename: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct MediaId {
    /// The provider's id of media uploaded to it.
    #[schema(pattern = r"\S")]
    media_id: String,
    #[schema(max_length = 1024)]
    caption: Option<String>,
    /// Documents only.
    #[schema(schema_with = absent)]
    filename: Option<String>,
}

/// Documents: as [`CaptionedMedia`], with the file name the customer sees
/// (only documents carry one: 422 for other media).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum DocumentMedia {
    Link(DocumentLink),
    Id(DocumentId),
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DocumentLink {
    /// An `http(s)://` URL the provider fetches.
    #[schema(pattern = r"^ *[Hh][Tt][Tt][Pp][Ss]?://[^/\s]")]
    link: String,
    #[schema(max_length = 1024)]
    caption: Option<String>,
    filename: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DocumentId {
    /// The provider's id of media uploaded to it.
    #[schema(pattern = r"\S")]
    media_id: String,
    #[schema(max_length = 1024)]
    caption: Option<String>,
    filename: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct UncaptionedMediaLink {
    /// An `http(s)://` URL the provider fetches.
    #[schema(pattern = r"^ *[Hh][Tt][Tt][Pp][Ss]?://[^/\s]")]
    link: String,
    /// Images, videos and documents only.
    #[schema(schema_with = absent)]
    caption: Option<String>,
    /// Documents only.
    #[schema(schema_with = absent)]
    filename: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct UncaptionedMediaId {
    /// The provider's id of media uploaded to it.
    #[schema(pattern = r"\S")]
    media_id: String,
    /// Images, videos and documents only.
    #[schema(schema_with = absent)]
    caption: Option<String>,
    /// Documents only.
    #[schema(schema_with = absent)]
    filename: Option<String>,
}

/// An approved template of the conversation's connection, by name and language,
/// with the values of its placeholders.
#[derive(Deserialize, ToSchema)]
pub struct TemplateRequest {
    /// As the provider lists it.
    #[schema(min_length = 1, max_length = 512, pattern = r"\S")]
    name: String,
    /// As the provider lists it, e.g. `en` or `pt_BR`.
    #[schema(min_length = 1, max_length = 16, pattern = r"\S")]
    language: String,
    #[serde(default)]
    header: Option<wacrm_domain::outbound::TemplateHeader>,
    /// The values of the body's placeholders, in order.
    #[serde(default)]
    #[schema(value_type = Vec<wacrm_domain::outbound::BodyParamText>)]
    body_params: Vec<String>,
    #[serde(default)]
    button_params: Vec<wacrm_domain::outbound::ButtonParam>,
    /// For named-parameter templates (`{{first_name}}`): the name of each body
    /// parameter, as many as `body_params`.
    #[serde(default)]
    body_param_names: Vec<String>,
    /// Likewise for a text header's one parameter.
    #[serde(default)]
    header_param_name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LocationRequest {
    #[schema(minimum = -90, maximum = 90)]
    latitude: f64,
    #[schema(minimum = -180, maximum = 180)]
    longitude: f64,
    name: Option<String>,
    address: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct ReactionRequest {
    /// Our id of the message reacted to.
    message_id: Uuid,
    /// An empty string removes the reaction.
    emoji: String,
}

impl From<ContentRequest> for OutboundContent {
    fn from(request: ContentRequest) -> Self {
        match request {
            ContentRequest::Text { text, preview_url } => Self::Text { text, preview_url },
            ContentRequest::Template { template } => Self::Template {
                name: template.name,
                language: template.language,
                header: template.header,
                body_params: template.body_params,
                button_params: template.button_params,
                body_param_names: template.body_param_names,
                header_param_name: template.header_param_name,
            },
            ContentRequest::Image { image } => Self::Image(image),
            ContentRequest::Audio { audio } => Self::Audio(audio),
            ContentRequest::Video { video } => Self::Video(video),
            ContentRequest::Document { document } => Self::Document(document),
            ContentRequest::Sticker { sticker } => Self::Sticker(sticker),
            ContentRequest::Location { location } => Self::Location {
                latitude: location.latitude,
                longitude: location.longitude,
                name: location.name,
                address: location.address,
            },
            ContentRequest::Contacts { contacts } => Self::Contacts { contacts },
            ContentRequest::Interactive { interactive } => Self::Interactive(interactive),
            ContentRequest::Reaction { reaction } => Self::Reaction {
                message_id: reaction.message_id.to_string(),
                emoji: reaction.emoji,
            },
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct SendMessageRequest {
    #[serde(flatten)]
    pub content: ContentRequest,
    /// Our id of a message in the conversation this one replies to.
    #[schema(
        pattern = r"^([0-9A-Fa-f]{32}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}|urn:uuid:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$"
    )]
    pub reply_to: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
pub struct StartMessageRequest {
    /// The customer's phone in any common spelling.
    pub to_phone: String,
    /// The business number to send from (default: a default number with a working connection).
    #[schema(
        pattern = r"^([0-9A-Fa-f]{32}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}|urn:uuid:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$"
    )]
    pub number_id: Option<Uuid>,
    #[serde(flatten)]
    pub content: ContentRequest,
    /// Our id of a message in the conversation this one replies to.
    #[schema(
        pattern = r"^([0-9A-Fa-f]{32}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}|urn:uuid:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$"
    )]
    pub reply_to: Option<Uuid>,
}

fn idempotency(request: &HttpRequest, body: &Value) -> ApiResult<Option<(String, Vec<u8>)>> {
    let Some(key) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = key
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible characters",
            )
        })?;
    // serde_json's maps are ordered, so equal JSON bodies give equal bytes.
    let canonical = serde_json::to_vec(body).map_err(ApiError::internal)?;
    Ok(Some((
        key.to_owned(),
        sending::fingerprint(request.path(), &canonical),
    )))
}

fn parse<T: serde::de::DeserializeOwned>(body: Value) -> ApiResult<T> {
    serde_json::from_value(body).map_err(|error| {
        ApiError::bad_request("invalid_body", format!("the body does not fit: {error}"))
    })
}

fn answer(answer: sending::Answer) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(answer.status)
        .unwrap_or(actix_web::http::StatusCode::ACCEPTED);
    HttpResponse::build(status).json(answer.body)
}

/// Queue a message in a conversation: free-form content only inside the
/// 24-hour window, an approved template any time. Delivery happens in the
/// background; the answer is the message with status `queued`. Send an
/// `Idempotency-Key` header to make retries safe: the same key and body get the
/// same answer and one send, for 24 hours.
#[utoipa::path(tag = "inbox", params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "1 to 255 visible ASCII characters; the same key and body answer the first result again")),
    request_body = SendMessageRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = MessageResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`idempotency_key_in_use`"),
    (status = 422, body = Problem, content_type = "application/problem+json",
        description = "`session_expired` (with `expires_at` and a hint), `template_not_found`, `template_not_approved`, `template_parameters_mismatch`, `unsupported_by_provider`, `recipient_blocked`, `recipient_opted_out` (a MARKETING template to a customer who opted out), `idempotency_key_reused`, `validation_failed`"),
))]
#[post("/conversations/{id}/messages")]
pub async fn send_message(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let body = body.into_inner();
    let idempotency = idempotency(&request, &body)?;
    let parsed: SendMessageRequest = parse(body)?;
    let outgoing = Outgoing {
        recipient: Recipient::Conversation(*id),
        content: parsed.content.into(),
        reply_to: parsed.reply_to,
        idempotency,
    };
    Ok(answer(sending::queue(&state, &principal, outgoing).await?))
}

/// Send to a phone number: continues its conversation on the number, or starts
/// one (seed 003). 503 `provider_not_configured` when no number can send.
#[utoipa::path(tag = "inbox", params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "1 to 255 visible ASCII characters; the same key and body answer the first result again")),
    request_body = StartMessageRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = MessageResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json", description = "`permission_denied`, or `conversation_not_visible`: the customer's conversation is assigned to another agent"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "as for sending in a conversation, incl. `recipient_blocked` and `recipient_opted_out`"),
    (status = 503, body = Problem, content_type = "application/problem+json", description = "`provider_not_configured`"),
))]
#[post("/messages")]
pub async fn start_message(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let body = body.into_inner();
    let idempotency = idempotency(&request, &body)?;
    let parsed: StartMessageRequest = parse(body)?;
    let outgoing = Outgoing {
        recipient: Recipient::Phone {
            to_phone: parsed.to_phone,
            number_id: parsed.number_id,
        },
        content: parsed.content.into(),
        reply_to: parsed.reply_to,
        idempotency,
    };
    Ok(answer(sending::queue(&state, &principal, outgoing).await?))
}
