//! The list of builds: a filter, a table, pages.

use chrono::Utc;
use maud::{html, Markup};

use super::format::{duration, first_line, short_commit, timestamp};
use super::views::{BuildStatus, BuildsView};
use super::{badge, layout, links};

pub fn builds(view: &BuildsView) -> Markup {
    let now = Utc::now();
    let filter = &view.filter;
    let branch = filter.branch.as_deref().unwrap_or("");
    let body = html! {
        div.page-head { h1 { "Builds" } }
        form.filters method="get" action="/builds" {
            label {
                "Project "
                select name="project" {
                    option value="" { "all" }
                    @for project in &view.projects {
                        option value=(project) selected[filter.project.as_deref() == Some(project.as_str())] { (project) }
                    }
                }
            }
            label { "Branch " input type="text" name="branch" value=(branch) placeholder="any"; }
            label {
                "Status "
                select name="status" {
                    option value="" { "any" }
                    @for status in BuildStatus::ALL {
                        option value=(status.as_str()) selected[filter.status == Some(status)] { (status.as_str()) }
                    }
                }
            }
            button type="submit" { "Filter" }
            @if filter.project.is_some() || !branch.is_empty() || filter.status.is_some() {
                a.clear href="/builds" { "clear" }
            }
        }
        @if view.rows.is_empty() {
            p.empty { "No builds match." }
        } @else {
            div.table-wrap {
                table.builds {
                    thead {
                        tr {
                            th { "#" } th { "status" } th { "project" } th { "branch" } th { "commit" }
                            th { "trigger" } th { "queued" } th.num { "duration" }
                        }
                    }
                    tbody {
                        @for row in &view.rows {
                            tr class=(format!("status-{}", row.status.as_str())) {
                                td { a href=(links::build(row.id)) { "#" (row.id) } }
                                td { (badge::build_status(row.status)) }
                                td { a href=(links::project_builds(&row.project)) { (row.project) } }
                                td.branch { (row.branch) }
                                td.commit-cell {
                                    @if let Some(commit) = &row.commit { code.commit { (short_commit(commit)) } " " }
                                    @if let Some(message) = &row.message { span.message { (first_line(message)) } }
                                    @if let Some(note) = &row.note { div.note { (note) } }
                                }
                                td { (row.trigger) }
                                td { (timestamp(row.queued_at)) }
                                td.num { @if let Some(took) = row.duration_at(now) { (duration(took)) } }
                            }
                        }
                    }
                }
            }
        }
        nav.pager {
            @if view.page > 1 {
                a rel="prev" href=(links::builds(filter, view.page - 1)) { "← newer" }
            }
            span.page { "page " (view.page) }
            @if view.has_next {
                a rel="next" href=(links::builds(filter, view.page + 1)) { "older →" }
            }
        }
    };
    layout::layout("Builds", &view.viewer, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::testdata;
    use crate::pages::views::BuildFilter;

    #[test]
    fn table_filters_and_pages() {
        let mut row = testdata::build_row(42, BuildStatus::Passed);
        row.branch = testdata::EVIL.into();
        row.note = Some("superseded by #43".into());
        let view = BuildsView {
            viewer: Default::default(),
            rows: vec![row, testdata::build_row(41, BuildStatus::Running)],
            filter: BuildFilter {
                project: Some("web".into()),
                branch: Some("feature/a&b".into()),
                status: Some(BuildStatus::Failed),
            },
            page: 2,
            has_next: true,
            projects: vec!["api".into(), "web".into()],
        };
        let page = builds(&view).into_string();
        assert!(page.contains("<form class=\"filters\" method=\"get\" action=\"/builds\">"));
        assert!(page.contains("<option value=\"web\" selected>web</option>"));
        assert!(page.contains("<option value=\"api\">api</option>"));
        assert!(page.contains("<option value=\"failed\" selected>failed</option>"));
        assert!(page.contains("name=\"branch\" value=\"feature/a&amp;b\""));
        assert!(page.contains("href=\"/builds/42\""));
        assert!(page.contains("01234567"));
        assert!(!page.contains("0123456789"));
        assert!(page.contains("superseded by #43"));
        assert!(page.contains("href=\"/builds?project=web&amp;branch=feature%2Fa%26b&amp;status=failed\""));
        assert!(page.contains("href=\"/builds?project=web&amp;branch=feature%2Fa%26b&amp;status=failed&amp;page=3\""));
        testdata::assert_escaped(&page);
    }

    #[test]
    fn first_page_without_more() {
        let view = BuildsView {
            viewer: Default::default(),
            rows: vec![],
            filter: BuildFilter::default(),
            page: 1,
            has_next: false,
            projects: vec![],
        };
        let page = builds(&view).into_string();
        assert!(page.contains("No builds match."));
        assert!(!page.contains("rel=\"prev\""));
        assert!(!page.contains("rel=\"next\""));
    }
}
