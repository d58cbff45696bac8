//! `/docs`: Swagger UI over `/openapi.json`, its files compiled into the binary (so it works
//! offline and behind any firewall).

use std::sync::{Arc, LazyLock};

use actix_web::HttpResponse;
use actix_web::web::Path;
use utoipa_swagger_ui::Config;

use crate::error::{ApiError, ErrorCode};

static CONFIG: LazyLock<Arc<Config<'static>>> =
    LazyLock::new(|| Arc::new(Config::new(["/openapi.json"])));

/// What the explorer's files are served as (their type guessed from their name), for the
/// document: a test below keeps it true.
pub const FILE_MEDIA_TYPES: &[&str] = &[
    "text/html",
    "text/css",
    "text/javascript",
    "image/png",
    "text/plain",
];

fn file(name: &str) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "No such file of the API explorer");
    let found = utoipa_swagger_ui::serve(name, Arc::clone(&CONFIG)).map_err(|e| {
        tracing::error!(error = %e, file = name, "cannot serve a file of the API explorer");
        ApiError::new(ErrorCode::Internal, "Internal error")
    })?;
    let found = found.ok_or_else(not_found)?;
    Ok(HttpResponse::Ok()
        .content_type(found.content_type)
        .body(found.bytes.into_owned()))
}

/// The explorer's page. Paths lose their trailing slash here (`NormalizePath`), so the page
/// names its own folder as the base its files are found from.
pub async fn index() -> Result<HttpResponse, ApiError> {
    let page = utoipa_swagger_ui::serve("index.html", Arc::clone(&CONFIG))
        .ok()
        .flatten()
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "Internal error"))?;
    let html =
        String::from_utf8_lossy(&page.bytes).replacen("<head>", "<head><base href=\"/docs/\">", 1);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// One of the explorer's files (scripts, styles, its initializer).
pub async fn asset(name: Path<String>) -> Result<HttpResponse, ApiError> {
    file(&name)
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;
    use actix_web::http::header::CONTENT_TYPE;

    use super::*;

    #[test]
    fn every_explorer_file_is_served_as_a_documented_media_type() {
        for name in [
            "index.html",
            "index.css",
            "swagger-ui.css",
            "swagger-ui.css.map",
            "swagger-ui-bundle.js",
            "swagger-ui-bundle.js.map",
            "swagger-ui-standalone-preset.js",
            "swagger-initializer.js",
            "oauth2-redirect.html",
            "favicon-16x16.png",
            "favicon-32x32.png",
        ] {
            let res = file(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(res.status(), StatusCode::OK, "{name}");
            let media_type = res
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let essence = media_type.split(';').next().unwrap_or_default().trim();
            assert!(
                FILE_MEDIA_TYPES.contains(&essence),
                "{name} is served as {media_type}, not in the document"
            );
        }
        assert!(file("no-such-file.js").is_err());
    }
}
