//! The stylesheet and the script, served by the handlers at `/assets/slipway.css` and
//! `/assets/slipway.js`. They live in their own files so editors and linters see real
//! CSS and JavaScript.

/// `/assets/slipway.css`
pub const CSS: &str = include_str!("slipway.css");

/// `/assets/slipway.js`
pub const JS: &str = include_str!("slipway.js");

/// `/assets/favicon.svg`: a slipway ramp, so browsers need not ask for `/favicon.ico`.
pub const FAVICON_SVG: &str = concat!(
    r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">"##,
    r##"<rect width="32" height="32" rx="7" fill="#161a21"/>"##,
    r##"<path d="M5 24 L27 10 L27 24 Z" fill="#4c9aff"/>"##,
    r##"<path d="M5 27 H27" stroke="#3fb950" stroke-width="2.5" stroke-linecap="round"/>"##,
    "</svg>"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_calls_the_agreed_urls() {
        for url in ["/events?after=", "/fragments/timeline", "/fragments/dashboard", "'/builds/'"] {
            assert!(JS.contains(url), "{url} missing from the script");
        }
        for event in ["run_started", "step_started", "step_output", "step_finished", "build_status", "run_finished"] {
            assert!(JS.contains(&format!("'{event}'")), "{event} not handled");
        }
        assert!(CSS.contains(".bar.status-running"));
        assert!(FAVICON_SVG.starts_with("<svg") && FAVICON_SVG.ends_with("</svg>"));
    }
}
