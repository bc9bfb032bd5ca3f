//! The pages' assets, built into the binary and served under a name that carries a hash of
//! their content: a browser may keep one for a year, and a new build's asset has a new name.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    /// `/assets/<stem>.<hash>.<extension>`
    path: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

impl Asset {
    fn new(name: &str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
        let hash = hex::encode(&Sha256::digest(bytes)[..6]);
        let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
        Asset { path: format!("/assets/{stem}.{hash}.{extension}"), content_type, bytes }
    }
}

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        Asset::new("site.css", "text/css; charset=utf-8", include_bytes!("assets/site.css")),
        Asset::new("icon.svg", "image/svg+xml", include_bytes!("assets/icon.svg")),
    ]
});

/// The path of the pages' stylesheet.
pub fn stylesheet() -> &'static str {
    &ASSETS[0].path
}

/// The path of the registry's icon.
pub fn icon() -> &'static str {
    &ASSETS[1].path
}

/// `GET /assets/{name}`: an asset by its hashed name.
pub async fn serve(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.path.strip_prefix("/assets/") == Some(name.as_str())) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_asset_is_named_by_its_content() {
        let one = Asset::new("site.css", "text/css", b"body{}");
        let same = Asset::new("site.css", "text/css", b"body{}");
        let other = Asset::new("site.css", "text/css", b"body{color:red}");
        assert_eq!(one.path, same.path);
        assert_ne!(one.path, other.path);
        assert!(one.path.starts_with("/assets/site.") && one.path.ends_with(".css"), "{}", one.path);
    }
}
