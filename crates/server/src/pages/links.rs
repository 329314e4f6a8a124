//! Links between pages. Every value from the database that goes into a URL is
//! form-encoded here, so a branch like `a&b=c` or `#x` stays one value.

use super::views::BuildFilter;

/// `path?k=v&…`, leaving out empty values; just `path` when nothing is left.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (key, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
        query.append_pair(key, value);
        any = true;
    }
    if any {
        format!("{path}?{}", query.finish())
    } else {
        path.to_string()
    }
}

pub fn build(id: i64) -> String {
    format!("/builds/{id}")
}

/// The history of one test across builds.
pub fn test_history(suite: &str, name: &str) -> String {
    let query =
        form_urlencoded::Serializer::new(String::new()).append_pair("suite", suite).append_pair("name", name).finish();
    format!("/tests?{query}")
}

/// The builds list with `filter`, on `page` (page 1 is left out of the URL).
pub fn builds(filter: &BuildFilter, page: u32) -> String {
    let page = if page > 1 { page.to_string() } else { String::new() };
    with_query(
        "/builds",
        &[
            ("project", filter.project.as_deref().unwrap_or("")),
            ("branch", filter.branch.as_deref().unwrap_or("")),
            ("status", filter.status.map(|s| s.as_str()).unwrap_or("")),
            ("page", &page),
        ],
    )
}

/// The builds of one project.
pub fn project_builds(project: &str) -> String {
    with_query("/builds", &[("project", project)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::views::BuildStatus;

    #[test]
    fn values_are_encoded() {
        assert_eq!(test_history("a b", "x&y=z#1"), "/tests?suite=a+b&name=x%26y%3Dz%231");
        let filter = BuildFilter { project: Some("web app".into()), branch: None, status: Some(BuildStatus::Failed) };
        assert_eq!(builds(&filter, 3), "/builds?project=web+app&status=failed&page=3");
        assert_eq!(builds(&BuildFilter::default(), 1), "/builds");
    }
}
