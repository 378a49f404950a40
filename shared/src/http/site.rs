//! The public site as the local host serves it, from the same site store the publisher writes
//! (on AWS, CloudFront serves the site bucket and sets the same headers).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::domain::site_paths;
use crate::ports::{ObjectKey, ObjectStore};
use crate::site::site_meta;

/// The Content-Security-Policy of every page: no scripts from elsewhere, no inline code.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     script-src 'self' 'wasm-unsafe-eval'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router(site: Arc<dyn ObjectStore>) -> Router {
    Router::new().fallback(get(serve)).with_state(site)
}

async fn serve(State(site): State<Arc<dyn ObjectStore>>, uri: Uri) -> Response {
    let Ok(path) = percent_encoding::percent_decode_str(uri.path()).decode_utf8() else {
        return not_found();
    };
    let mut raw = path.trim_start_matches('/').to_owned();
    if raw.is_empty() || raw.ends_with('/') {
        raw = site_paths::folder_key(&raw);
    }
    let Ok(key) = ObjectKey::parse(raw.clone()) else {
        return not_found();
    };
    match site.get(&key).await {
        Ok(Some(object)) => {
            let meta = site_meta(key.as_str());
            let mut response = Body::from_stream(object.body).into_response();
            let headers = response.headers_mut();
            let value = |v: &str| {
                HeaderValue::from_str(v)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream"))
            };
            headers.insert(header::CONTENT_TYPE, value(&meta.content_type));
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.size));
            if let Some(disposition) = meta.content_disposition {
                if let Ok(v) = HeaderValue::from_str(&disposition) {
                    headers.insert(header::CONTENT_DISPOSITION, v);
                }
            } else {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            }
            response
        }
        Ok(None) => {
            // `/consultations/x` -> `/consultations/x/` when that folder has a page.
            let folder = ObjectKey::parse(site_paths::folder_key(&format!("{raw}/")));
            if let Ok(folder) = folder
                && let Ok(Some(_)) = site.get(&folder).await
            {
                return Redirect::permanent(&format!("{}/", uri.path())).into_response();
            }
            not_found()
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the site store");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Not found\n",
    )
        .into_response()
}
