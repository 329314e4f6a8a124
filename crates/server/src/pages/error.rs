//! The page shown for a failed request (not found, forbidden, …).

use maud::{html, Markup};

use super::layout;
use super::views::ErrorView;

pub fn error_page(view: &ErrorView) -> Markup {
    let body = html! {
        div.error-page {
            p.error-code { (view.status) }
            h1 { (view.title) }
            p { (view.message) }
            p { a href="/" { "Back to the dashboard" } }
        }
    };
    layout::layout(&format!("{} {}", view.status, view.title), &view.viewer, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::testdata;

    #[test]
    fn shows_status_and_escapes() {
        let view = ErrorView {
            viewer: Default::default(),
            status: 404,
            title: "Not found".into(),
            message: testdata::EVIL.into(),
        };
        let page = error_page(&view).into_string();
        assert!(page.contains("<title>404 Not found · slipway</title>"));
        assert!(page.contains("<h1>Not found</h1>"));
        testdata::assert_escaped(&page);
    }
}
