//! `/docs`: Swagger UI over `/openapi.json`, its files compiled into the binary (so it works
//! offline and behind any firewall).

use std::sync::{Arc, LazyLock};

use actix_web::HttpResponse;
use actix_web::web::Path;
use utoipa_swagger_ui::Config;

use crate::error::{ApiError, ErrorCode};

static CONFIG: LazyLock<Arc<Config<'static>>> =
    LazyLock::new(|| Arc::new(Config::new(["/openapi.json"])));

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
