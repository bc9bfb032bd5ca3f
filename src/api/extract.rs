//! Request extractors whose rejections are problem+json naming the offending field.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Malformed JSON → 400; a well-formed body of the wrong shape → 422 naming the
/// field; over the route's size limit → 413; not declared as JSON → 415.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType("send the body as application/json".into()));
        }
        let bytes = read_body(request, state).await?;
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
pub async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest("the request body could not be read".into())
        }
    })
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
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Page {
    pub const DEFAULT_LIMIT: u64 = 50;
    pub const MAX_LIMIT: u64 = 500;

    /// (limit, position after which to continue)
    pub fn parse(&self) -> Result<(u64, Option<i64>), ApiError> {
        let limit = match self.limit.as_deref() {
            None | Some("") => Self::DEFAULT_LIMIT,
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
