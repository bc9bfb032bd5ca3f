//! Request extractors whose rejections are problem+json naming the offending field, and the
//! JSON response of the hot answers.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Malformed JSON → 400; a well-formed body of the wrong shape → 422 naming the
/// field; over the route's size limit → 413; not declared as JSON → 415.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType("send the body as application/json".into()));
        }
        let bytes = read_body(request, super::BODY_LIMIT).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The body as bytes, within the route's size limit.
/// Reads the body, up to `limit` bytes. A longer one is refused with 413 once it has been read
/// to its end and thrown away (up to `limit` bytes more): a client still sending when the
/// connection closed would see a broken connection instead of the answer.
pub async fn read_body(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    let unreadable = |_| ApiError::BadRequest("the request body could not be read".into());
    let mut body = request.into_body();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(unreadable)?.into_data() else { continue };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            kept.extend_from_slice(&data);
        } else if seen > limit.saturating_mul(2) {
            break;
        }
    }
    if seen > limit {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(Bytes::from(kept))
}

/// Deserializes JSON, reporting the path of the first field that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_data() {
            let field = if path == "." { "body".to_string() } else { path };
            ApiError::field(field, public_message(&inner.to_string()))
        } else {
            ApiError::BadRequest(format!("malformed JSON at line {} column {}", inner.line(), inner.column()))
        }
    })?;
    deserializer.end().map_err(|_| ApiError::BadRequest("unexpected data after the JSON value".into()))?;
    Ok(value)
}

/// serde's messages, without the Rust type names some of them carry.
fn public_message(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    match message.find("expected struct ") {
        Some(at) => format!("{}expected an object", &message[..at]),
        None => message.replace("expected a borrowed string", "expected a string"),
    }
}

/// A query string; every field is optional text, parsed by the handler so errors name fields.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(ApiQuery)
            .map_err(|_| ApiError::BadRequest("the query string could not be read".into()))
    }
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// 1 to 500, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Page {
    pub const DEFAULT_LIMIT: u64 = 50;
    pub const MAX_LIMIT: u64 = 500;

    /// (limit, position after which to continue)
    pub fn parse(&self) -> Result<(u64, Option<i64>), ApiError> {
        // An empty `limit=` is not a number: refused like any other, as the document says.
        let limit = match self.limit.as_deref() {
            None => Self::DEFAULT_LIMIT,
            Some(text) => match text.parse::<u64>() {
                Ok(n) if (1..=Self::MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::field("limit", "must be a whole number from 1 to 500"));
                }
            },
        };
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(text) => Some(
                crate::store::cursor::decode(text)
                    .ok_or_else(|| ApiError::field("cursor", "is not a cursor this list returned"))?,
            ),
        };
        Ok((limit, after))
    }
}

/// `{"items": [...], "next_cursor": ...}`
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    pub fn new(items: Vec<T>, next: Option<i64>) -> Self {
        Paged { items, next_cursor: next.map(crate::store::cursor::encode) }
    }

    /// A page of a short list held in memory, in its given (stable) order; the cursor is a
    /// position in it.
    pub fn of(all: Vec<T>, page: &Page) -> Result<Self, ApiError> {
        let (limit, after) = page.parse()?;
        let start = usize::try_from(after.unwrap_or(0))
            .map_err(|_| ApiError::field("cursor", "is not a cursor this list returned"))?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let total = all.len();
        let items: Vec<T> = all.into_iter().skip(start).take(limit).collect();
        let end = start + items.len();
        Ok(Paged::new(items, (end < total).then(|| i64::try_from(end).unwrap_or(i64::MAX))))
    }
}

/// A JSON answer written at once into a buffer of its usual size, with room for the headers
/// every response gets on its way out: for the answers asked most (the border question, the
/// public check), where growing the body and the header map showed in profiles.
pub struct HotJson<T>(pub T);

/// Bytes of a usual recognition answer, rounded up.
const HOT_BODY_CAPACITY: usize = 1024;
/// Headers of a response once every layer has added its own.
const HOT_HEADER_CAPACITY: usize = 12;

impl<T: Serialize> IntoResponse for HotJson<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(HOT_BODY_CAPACITY);
        if let Err(error) = serde_json::to_writer(&mut body, &self.0) {
            return ApiError::Internal(error.into()).into_response();
        }
        let mut headers = HeaderMap::with_capacity(HOT_HEADER_CAPACITY);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut response = Response::new(Body::from(body));
        *response.headers_mut() = headers;
        response
    }
}
