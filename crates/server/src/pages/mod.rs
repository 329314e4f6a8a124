//! Server-rendered pages: pure functions from the view structs in [`views`] to HTML. The
//! handlers fill the views from the database; nothing here does I/O. The stylesheet and
//! the one script are constants in [`assets`], served as files so pages carry no inline
//! scripts.

pub mod ansi;
pub mod assets;
mod badge;
pub mod build;
pub mod builds;
mod charts;
pub mod dashboard;
pub mod error;
mod format;
pub mod lanes;
pub mod layout;
pub mod links;
pub mod login;
mod logs;
pub mod test_history;
mod test_results;
#[cfg(test)]
mod testdata;
pub mod timeline;
pub mod views;

pub use ansi::{ansi_to_html, ansi_to_html_string};
pub use build::build;
pub use builds::builds;
pub use dashboard::{dashboard, dashboard_tiles};
pub use error::error_page;
pub use lanes::assign_lanes;
pub use layout::layout;
pub use login::login;
pub use test_history::test_history;
pub use timeline::timeline;
pub use views::*;
