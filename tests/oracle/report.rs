//! Failure collection: counters, every failure formatted for the report,
//! and the summary line and report files written at the end.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use crate::common::{say, Settings};

/// Counters and failures over the whole run.
#[derive(Default)]
pub struct Stats {
    pub files: usize,
    pub queries: usize,
    pub statements: usize,
    pub error_cases: usize,
    pub view_checks: usize,
    pub failures: Vec<String>,
    /// PostgreSQL's answers, written out with `ORACLE_DUMP=1`.
    pub dump: String,
}

impl Stats {
    /// Records a failure (location, what went wrong, the case's comment, its
    /// SQL and the details) and announces it on stderr.
    pub fn fail(&mut self, loc: &str, what: &str, comment: &str, sql: &str, detail: &str) {
        let mut s = format!("FAIL {loc}: {what}\n");
        if !comment.is_empty() {
            let _ = writeln!(s, "  # {comment}");
        }
        if !sql.is_empty() {
            for l in sql.lines() {
                let _ = writeln!(s, "  | {l}");
            }
        }
        for l in detail.trim_end().lines() {
            let _ = writeln!(s, "  {l}");
        }
        say(&format!("FAIL {loc}: {what}"));
        self.failures.push(s);
    }
    /// The summary line: `oracle: N queries, M failed (...)`.
    pub fn summary(&self, settings: &Settings) -> String {
        let failed = self.failures.len();
        format!(
            "oracle: {} queries, {failed} failed ({} files, {} view checks, {} statements, {} error cases{})",
            self.queries,
            self.files,
            self.view_checks,
            self.statements,
            self.error_cases,
            if settings.pg_only { ", PostgreSQL only" } else { "" }
        )
    }

    /// Writes every failure and the summary to `target/tmp/oracle-failures.txt`
    /// (and, with `ORACLE_DUMP=1`, PostgreSQL's answers to
    /// `target/tmp/oracle-dump.txt`); returns the report's path.
    pub fn write_report(&self, summary: &str, settings: &Settings) -> PathBuf {
        let report_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oracle-failures.txt");
        let mut report = self.failures.join("\n");
        report.push_str(&format!("\n{summary}\n"));
        let _ = fs::create_dir_all(report_path.parent().unwrap());
        let _ = fs::write(&report_path, &report);
        if settings.dump {
            let dump_path = report_path.with_file_name("oracle-dump.txt");
            let _ = fs::write(&dump_path, &self.dump);
            say(&format!(
                "oracle: PostgreSQL answers written to {}",
                dump_path.display()
            ));
        }
        report_path
    }
}
