//! Builds in the server database: queueing, starting, finishing, cancelling, listing.

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use crate::db::{now_ms, Db, DbError};

/// A build's state; the pages' view of it is the same type.
pub use crate::pages::BuildStatus as Status;

/// What to build, and why: from a webhook, the API, a re-run or a recovery.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct BuildRequest {
    pub project: String,
    pub branch: String,
    pub commit: Option<String>,
    pub message: Option<String>,
    pub committer_name: Option<String>,
    pub committer_email: Option<String>,
    pub committer_username: Option<String>,
    pub pr_number: Option<u64>,
    pub pr_url: Option<String>,
    /// "github push", "api", "rerun of #12", …
    pub trigger: String,
}

/// A commit as the checkout describes it (`git log -1`).
#[derive(Debug, Clone, Default)]
pub struct CommitDetails {
    pub message: Option<String>,
    pub committer_name: Option<String>,
    pub committer_email: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Build {
    pub id: i64,
    #[serde(flatten)]
    pub request: BuildRequest,
    pub status: Status,
    pub note: Option<String>,
    pub queued_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    pub run_id: Option<String>,
    pub exit_code: Option<i64>,
    pub recovers: Option<i64>,
}

impl Build {
    pub fn duration_ms(&self) -> Option<i64> {
        let start = self.started_at_ms?;
        Some(self.finished_at_ms.unwrap_or_else(now_ms) - start)
    }
}

const COLUMNS: &str = "id, project, branch, commit_id, message, committer_name, committer_email, \
    committer_username, pr_number, pr_url, trigger, status, note, queued_at_ms, started_at_ms, \
    finished_at_ms, run_id, exit_code, recovers";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Build> {
    let status: String = r.get(11)?;
    Ok(Build {
        id: r.get(0)?,
        request: BuildRequest {
            project: r.get(1)?,
            branch: r.get(2)?,
            commit: r.get(3)?,
            message: r.get(4)?,
            committer_name: r.get(5)?,
            committer_email: r.get(6)?,
            committer_username: r.get(7)?,
            pr_number: r.get::<_, Option<i64>>(8)?.map(|n| n as u64),
            pr_url: r.get(9)?,
            trigger: r.get(10)?,
        },
        status: Status::parse(&status).unwrap_or(Status::Error),
        note: r.get(12)?,
        queued_at_ms: r.get(13)?,
        started_at_ms: r.get(14)?,
        finished_at_ms: r.get(15)?,
        run_id: r.get(16)?,
        exit_code: r.get(17)?,
        recovers: r.get(18)?,
    })
}

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub project: Option<String>,
    pub branch: Option<String>,
    pub status: Option<Status>,
}

impl Db {
    pub fn enqueue(&self, request: &BuildRequest, recovers: Option<i64>) -> Result<Build, DbError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO builds (project, branch, commit_id, message, committer_name, committer_email,
                committer_username, pr_number, pr_url, trigger, status, queued_at_ms, recovers)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'queued', ?11, ?12)",
            params![
                request.project,
                request.branch,
                request.commit,
                request.message,
                request.committer_name,
                request.committer_email,
                request.committer_username,
                request.pr_number.map(|n| n as i64),
                request.pr_url,
                request.trigger,
                now_ms(),
                recovers
            ],
        )?;
        let id = conn.last_insert_rowid();
        Ok(conn.query_row(&format!("SELECT {COLUMNS} FROM builds WHERE id = ?1"), [id], from_row)?)
    }

    pub fn build(&self, id: i64) -> Result<Option<Build>, DbError> {
        Ok(self.conn().query_row(&format!("SELECT {COLUMNS} FROM builds WHERE id = ?1"), [id], from_row).optional()?)
    }

    /// Builds with this status, oldest first.
    pub fn builds_with_status(&self, status: Status) -> Result<Vec<Build>, DbError> {
        let conn = self.conn();
        let mut s = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM builds WHERE status = ?1 ORDER BY id"))?;
        let rows = s.query_map([status.as_str()], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A page of builds, newest first, and whether there are more.
    pub fn list(&self, filter: &Filter, page: u32, per_page: u32) -> Result<(Vec<Build>, bool), DbError> {
        let mut sql = format!("SELECT {COLUMNS} FROM builds WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        if let Some(p) = &filter.project {
            args.push(p.clone());
            sql.push_str(&format!(" AND project = ?{}", args.len()));
        }
        if let Some(b) = &filter.branch {
            args.push(b.clone());
            sql.push_str(&format!(" AND branch = ?{}", args.len()));
        }
        if let Some(s) = filter.status {
            args.push(s.as_str().to_string());
            sql.push_str(&format!(" AND status = ?{}", args.len()));
        }
        let offset = u64::from(page.max(1) - 1) * u64::from(per_page);
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {} OFFSET {offset}", per_page + 1));
        let conn = self.conn();
        let mut s = conn.prepare_cached(&sql)?;
        let mut rows =
            s.query_map(rusqlite::params_from_iter(args.iter()), from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        let more = rows.len() > per_page as usize;
        rows.truncate(per_page as usize);
        Ok((rows, more))
    }

    /// Queued → running; false if it was no longer queued (cancelled meanwhile).
    pub fn mark_running(&self, id: i64) -> Result<bool, DbError> {
        let n = self.conn().execute(
            "UPDATE builds SET status = 'running', started_at_ms = ?2 WHERE id = ?1 AND status = 'queued'",
            params![id, now_ms()],
        )?;
        Ok(n == 1)
    }

    /// Queued → cancelled; false if it was no longer queued (started meanwhile).
    pub fn cancel_queued(&self, id: i64, note: &str) -> Result<bool, DbError> {
        let n = self.conn().execute(
            "UPDATE builds SET status = 'cancelled', finished_at_ms = ?2, note = ?3 WHERE id = ?1 AND status = 'queued'",
            params![id, now_ms(), note],
        )?;
        Ok(n == 1)
    }

    pub fn set_run_id(&self, id: i64, run_id: &str) -> Result<(), DbError> {
        self.conn().execute("UPDATE builds SET run_id = ?2 WHERE id = ?1", params![id, run_id])?;
        Ok(())
    }

    pub fn finish(&self, id: i64, status: Status, exit_code: Option<i64>, note: Option<&str>) -> Result<(), DbError> {
        self.conn().execute(
            "UPDATE builds SET status = ?2, exit_code = ?3, finished_at_ms = ?4, note = COALESCE(?5, note)
             WHERE id = ?1 AND status IN ('queued', 'running')",
            params![id, status.as_str(), exit_code, now_ms(), note],
        )?;
        Ok(())
    }

    /// The commit a build checked out, and what the checkout says of it for the fields
    /// its trigger left empty.
    pub fn set_commit(&self, id: i64, commit: &str, details: &CommitDetails) -> Result<(), DbError> {
        self.conn().execute(
            "UPDATE builds SET commit_id = ?2, message = COALESCE(message, ?3),
                    committer_name = COALESCE(committer_name, ?4), committer_email = COALESCE(committer_email, ?5)
             WHERE id = ?1",
            params![id, commit, details.message, details.committer_name, details.committer_email],
        )?;
        Ok(())
    }

    pub fn set_note(&self, id: i64, note: &str) -> Result<(), DbError> {
        self.conn().execute("UPDATE builds SET note = ?2 WHERE id = ?1", params![id, note])?;
        Ok(())
    }

    /// Queued builds of `project`/`branch` older than `newer_than`.
    pub fn older_builds_of_branch(&self, project: &str, branch: &str, newer_than: i64) -> Result<Vec<Build>, DbError> {
        let conn = self.conn();
        let mut s = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM builds WHERE project = ?1 AND branch = ?2 AND id < ?3
               AND status IN ('queued', 'running') ORDER BY id"
        ))?;
        let rows =
            s.query_map(params![project, branch, newer_than], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Counts by status.
    pub fn status_counts(&self) -> Result<Vec<(Status, i64)>, DbError> {
        let conn = self.conn();
        let mut s = conn.prepare_cached("SELECT status, COUNT(*) FROM builds GROUP BY status")?;
        let rows = s
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows.into_iter().filter_map(|(s, n)| Status::parse(&s).map(|s| (s, n))).collect())
    }

    /// Distinct projects that have builds (for filters), alphabetically.
    pub fn projects_with_builds(&self) -> Result<Vec<String>, DbError> {
        let conn = self.conn();
        let mut s = conn.prepare_cached("SELECT DISTINCT project FROM builds ORDER BY project")?;
        let rows = s.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The build that ran `run_id` (the history store's run).
    pub fn build_of_run(&self, run_id: &str) -> Result<Option<Build>, DbError> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {COLUMNS} FROM builds WHERE run_id = ?1"), [run_id], from_row)
            .optional()?)
    }

    /// The last `n` finished (passed or failed) builds of a project, newest first.
    pub fn last_finished(&self, project: &str, n: usize) -> Result<Vec<Build>, DbError> {
        let conn = self.conn();
        let mut s = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM builds WHERE project = ?1 AND status IN ('passed', 'failed')
             ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = s.query_map(params![project, n as i64], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn last_build(&self, project: &str) -> Result<Option<Build>, DbError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM builds WHERE project = ?1 ORDER BY id DESC LIMIT 1"),
                [project],
                from_row,
            )
            .optional()?)
    }

    /// Builds per UTC day since `since_ms`: (yyyy-mm-dd, count).
    pub fn builds_per_day(&self, project: &str, since_ms: i64) -> Result<Vec<(String, u32)>, DbError> {
        let conn = self.conn();
        let mut s = conn.prepare_cached(
            "SELECT date(queued_at_ms / 1000, 'unixepoch') AS day, COUNT(*) FROM builds
             WHERE project = ?1 AND queued_at_ms >= ?2 GROUP BY day ORDER BY day",
        )?;
        let rows = s.query_map(params![project, since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn count(&self, project: Option<&str>, status: Status) -> Result<usize, DbError> {
        let conn = self.conn();
        let n: i64 = match project {
            Some(p) => conn.query_row(
                "SELECT COUNT(*) FROM builds WHERE project = ?1 AND status = ?2",
                params![p, status.as_str()],
                |r| r.get(0),
            )?,
            None => conn.query_row("SELECT COUNT(*) FROM builds WHERE status = ?1", [status.as_str()], |r| r.get(0))?,
        };
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(project: &str, branch: &str) -> BuildRequest {
        BuildRequest { project: project.into(), branch: branch.into(), trigger: "api".into(), ..Default::default() }
    }

    #[test]
    fn a_build_goes_from_queued_to_finished_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let b = db.enqueue(&request("shop", "main"), None).unwrap();
        assert_eq!(b.status, Status::Queued);
        assert!(db.mark_running(b.id).unwrap());
        assert!(!db.mark_running(b.id).unwrap(), "only a queued build starts");
        db.finish(b.id, Status::Passed, Some(0), None).unwrap();
        db.finish(b.id, Status::Failed, Some(1), None).unwrap();
        let b = db.build(b.id).unwrap().unwrap();
        assert_eq!(b.status, Status::Passed, "a finished build stays finished");
        assert!(b.duration_ms().is_some());
    }

    #[test]
    fn lists_pages_newest_first_with_filters() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        for i in 0..5 {
            db.enqueue(&request(if i % 2 == 0 { "a" } else { "b" }, "main"), None).unwrap();
        }
        let (page, more) = db.list(&Filter::default(), 1, 2).unwrap();
        assert_eq!(page.iter().map(|b| b.id).collect::<Vec<_>>(), [5, 4]);
        assert!(more);
        let (last, more) = db.list(&Filter::default(), 3, 2).unwrap();
        assert_eq!(last.len(), 1);
        assert!(!more);
        let only_a = Filter { project: Some("a".into()), ..Default::default() };
        assert_eq!(db.list(&only_a, 1, 10).unwrap().0.len(), 3);
        let older = db.older_builds_of_branch("a", "main", 5).unwrap();
        assert_eq!(older.iter().map(|b| b.id).collect::<Vec<_>>(), [1, 3]);
    }
}
