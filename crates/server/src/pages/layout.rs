//! The shell every page shares: head, navigation, who is logged in.

use maud::{html, Markup, DOCTYPE};

use super::views::Viewer;

/// A whole page around `body`. Scripts come only from `/assets/slipway.js`, so a strict
/// `script-src 'self'` policy holds; pages hand it data through `data-*` attributes.
pub fn layout(title: &str, viewer: &Viewer, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="dark";
                title { (title) " · slipway" }
                link rel="icon" type="image/svg+xml" href="/assets/favicon.svg";
                link rel="stylesheet" href="/assets/slipway.css";
                script src="/assets/slipway.js" defer {}
            }
            body {
                header.topbar {
                    a.brand href="/" { "slipway" }
                    nav.main-nav {
                        a href="/" { "Dashboard" }
                        a href="/builds" { "Builds" }
                    }
                    div.who {
                        @if let Some(role) = viewer.role {
                            span.role title="Your role" { (role.as_str()) }
                        }
                        @if let Some(csrf) = &viewer.csrf {
                            form.logout method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button.link type="submit" { "Log out" }
                            }
                        } @else {
                            a #login-link href="/login" { "Log in" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::views::Role;

    #[test]
    fn shell_has_assets_and_login_state() {
        let anonymous = layout("Home", &Viewer::default(), html! { p { "hi" } }).into_string();
        assert!(anonymous.starts_with("<!DOCTYPE html>"));
        assert!(anonymous.contains("<meta charset=\"utf-8\">"));
        assert!(anonymous.contains("name=\"viewport\""));
        assert!(anonymous.contains("<link rel=\"stylesheet\" href=\"/assets/slipway.css\">"));
        assert!(anonymous.contains("<script src=\"/assets/slipway.js\" defer></script>"));
        assert!(anonymous.contains("href=\"/login\""));
        assert!(!anonymous.contains("/logout"));

        let admin = Viewer { role: Some(Role::Admin), csrf: Some("tok\"en".into()) };
        let page = layout("<b>", &admin, html! {}).into_string();
        assert!(page.contains("<title>&lt;b&gt; · slipway</title>"));
        assert!(page.contains("action=\"/logout\""));
        assert!(page.contains("name=\"csrf\" value=\"tok&quot;en\""));
        assert!(page.contains(">admin<"));
        assert!(!page.contains("href=\"/login\""));
    }
}
