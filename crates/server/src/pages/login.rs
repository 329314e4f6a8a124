//! The login form: a token, exchanged by the server for a session.

use maud::{html, Markup};

use super::layout;
use super::views::{LoginView, Viewer};

pub fn login(view: &LoginView) -> Markup {
    let body = html! {
        div.login {
            h1 { "Log in" }
            @if let Some(error) = &view.error {
                p.error role="alert" { (error) }
            }
            form.login-form method="post" action="/login" {
                label for="token" { "Access token" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                @if let Some(next) = &view.next {
                    input type="hidden" name="next" value=(next);
                }
                button type="submit" { "Log in" }
            }
        }
    };
    layout::layout("Log in", &Viewer::default(), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::testdata;

    #[test]
    fn form_posts_token_and_next() {
        let view = LoginView { error: Some(testdata::EVIL.into()), next: Some("/builds/3?x=\"y\"".into()) };
        let page = login(&view).into_string();
        assert!(page.contains("<form class=\"login-form\" method=\"post\" action=\"/login\">"));
        assert!(page.contains("type=\"password\" name=\"token\""));
        assert!(page.contains("<input type=\"hidden\" name=\"next\" value=\"/builds/3?x=&quot;y&quot;\">"));
        testdata::assert_escaped(&page);
        assert!(!login(&LoginView::default()).into_string().contains("name=\"next\""));
    }
}
