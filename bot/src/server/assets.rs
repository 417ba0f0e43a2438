//! The pages and scripts the server serves, embedded in the binary at build time so the demo
//! needs nothing but the executable.

use axum::http::header;
use axum::response::{Html, IntoResponse};

const WIDGET_JS: &str = include_str!("../../../web-widget/widget.js");
const DEMO_PAGE: &str = include_str!("../../../web-widget/demo.html");

pub async fn demo_page() -> Html<&'static str> {
    Html(DEMO_PAGE)
}

pub async fn widget_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        WIDGET_JS,
    )
}
