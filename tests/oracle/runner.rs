//! Running one `.slt` file on both servers: each record is run on
//! PostgreSQL and eddy and compared, materialized views are re-checked after
//! every change, and a lost eddy connection or process is recovered from or
//! reported.

use std::fmt::Write as _;
use std::time::Duration;

use tokio_postgres::Client;

use crate::client::{columns, connect, exec, ExecError, Output, Row};
use crate::common::Settings;
use crate::compare::{compare, render_row};
use crate::eddy::Eddy;
use crate::report::Stats;
use crate::slt::{created_mv_name, leading_words, pg_sql, Kind, Record};

/// The state of one file's run: both clients, the eddy process and the
/// materialized views to re-check.
pub struct FileRun<'a> {
    pub settings: &'a Settings,
    pub stats: &'a mut Stats,
    pub file: String,
    pub pg: Client,
    /// The eddy process (absent in PG-only and self-test modes).
    pub eddy_proc: Option<Eddy>,
    /// The client the eddy side of every comparison runs on.
    pub eddy: Option<Client>,
    /// Materialized views created so far: name -> (line of creation).
    pub views: Vec<(String, usize)>,
    pub in_txn: bool,
    /// Set when eddy died or lost the connection: remaining records are not run on eddy.
    pub eddy_dead: bool,
    /// Queries and view checks not compared because eddy is not running.
    pub not_compared: usize,
}

impl FileRun<'_> {
    fn loc(&self, line: usize) -> String {
        format!("{}:{line}", self.file)
    }

    /// Runs `sql` on eddy; `None` when eddy is not running (PG-only mode, or it died).
    async fn eddy_exec(&self, sql: &str) -> Option<Result<Output, ExecError>> {
        if self.eddy_dead {
            return None;
        }
        let client = self.eddy.as_ref()?;
        Some(exec(client, sql, self.settings.timeout).await)
    }

    /// Reports that eddy failed the statement at `loc` with `e` (`what`
    /// says how), and recovers the connection after a client-level error.
    async fn eddy_failed(&mut self, loc: &str, line: usize, what: &str, comment: &str, sql: &str, e: &ExecError) {
        self.stats.fail(loc, what, comment, sql, &e.describe());
        if matches!(e, ExecError::Other(_)) {
            self.recover_eddy(line).await;
        }
    }

    /// After a client-level error on eddy (connection closed, protocol error,
    /// timeout): if the server exited, stop running this file on eddy; if it
    /// is alive, report the broken connection and continue on a new one.
    async fn recover_eddy(&mut self, line: usize) {
        if self.eddy_dead {
            return;
        }
        let loc = self.loc(line);
        // Give the connection task a moment to notice a closed socket.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Some(proc_) = self.eddy_proc.as_mut() else {
            return; // self-test mode: nothing to recover
        };
        if let Some(msg) = proc_.exited() {
            self.stats.fail(
                &loc,
                "eddy server exited; the rest of this file is not run on eddy",
                "",
                "",
                &msg,
            );
            self.eddy_dead = true;
            return;
        }
        let excerpt = proc_.new_log_excerpt();
        let conn = proc_.conn_string();
        match tokio::time::timeout(Duration::from_secs(10), connect(&conn)).await {
            Ok(Ok(client)) => {
                self.stats.fail(
                    &loc,
                    "eddy dropped the connection or stopped answering (server still running); \
                     continuing on a new connection",
                    "",
                    "",
                    &format!("--- eddy output ---\n{excerpt}"),
                );
                self.eddy = Some(client);
                self.in_txn = false;
            }
            other => {
                let why = match other {
                    Ok(Err(e)) => e,
                    _ => "connect timed out".to_string(),
                };
                self.stats.fail(
                    &loc,
                    "eddy is unreachable (server running but not accepting connections); \
                     the rest of this file is not run on eddy",
                    "",
                    "",
                    &format!("{why}\n--- eddy output ---\n{excerpt}"),
                );
                self.eddy_dead = true;
            }
        }
    }

    pub async fn run_record(&mut self, r: &Record) {
        let timeout = self.settings.timeout;
        let loc = self.loc(r.line);
        match &r.kind {
            Kind::StatementOk { eddy_only } => {
                self.stats.statements += 1;
                let mut pg_ok = true;
                if !eddy_only {
                    if let Err(e) = exec(&self.pg, &pg_sql(&r.sql), timeout).await {
                        pg_ok = false;
                        self.stats.fail(
                            &loc,
                            "PostgreSQL rejected the statement (bug in the test file?)",
                            &r.comment,
                            &r.sql,
                            &e.describe(),
                        );
                    }
                }
                let mut eddy_ok = true;
                if let Some(res) = self.eddy_exec(&r.sql).await {
                    if let Err(e) = res {
                        eddy_ok = false;
                        self.eddy_failed(&loc, r.line, "statement failed on eddy", &r.comment, &r.sql, &e).await;
                    }
                } else if !self.settings.pg_only {
                    eddy_ok = false;
                }
                if !eddy_only {
                    self.after_statement(r, pg_ok, eddy_ok || self.settings.pg_only)
                        .await;
                }
            }
            Kind::StatementError { code, eddy_only } => {
                self.stats.error_cases += 1;
                if !eddy_only {
                    match exec(&self.pg, &pg_sql(&r.sql), timeout).await {
                        Ok(_) => self.stats.fail(
                            &loc,
                            &format!("PostgreSQL accepted a statement expected to fail with {code} (bug in the test file?)"),
                            &r.comment,
                            &r.sql,
                            "",
                        ),
                        Err(ExecError::Db { code: c, .. }) if c == *code => {}
                        Err(e) => self.stats.fail(
                            &loc,
                            &format!("PostgreSQL fails with a different error than the expected {code} (bug in the test file?)"),
                            &r.comment,
                            &r.sql,
                            &e.describe(),
                        ),
                    }
                }
                if let Some(res) = self.eddy_exec(&r.sql).await {
                    match res {
                        Ok(_) => self.stats.fail(
                            &loc,
                            &format!("eddy accepted a statement that must fail with {code}"),
                            &r.comment,
                            &r.sql,
                            "",
                        ),
                        Err(ExecError::Db { code: c, .. }) if c == *code => {}
                        Err(e) => {
                            self.eddy_failed(&loc, r.line, &format!("eddy fails with the wrong error (expected SQLSTATE {code})"), &r.comment, &r.sql, &e).await;
                        }
                    }
                }
            }
            Kind::Query { ordered } => {
                self.stats.queries += 1;
                let pg = match exec(&self.pg, &r.sql, timeout).await {
                    Ok(out) => out,
                    Err(e) => {
                        self.stats.fail(
                            &loc,
                            "PostgreSQL rejected the query (bug in the test file?)",
                            &r.comment,
                            &r.sql,
                            &e.describe(),
                        );
                        return;
                    }
                };
                if self.settings.dump {
                    let _ = writeln!(self.stats.dump, "{loc}: # {}\n{}", r.comment, r.sql);
                    let rows: Vec<&Row> = if *ordered {
                        pg.rows.iter().collect()
                    } else {
                        let mut v: Vec<&Row> = pg.rows.iter().collect();
                        v.sort();
                        v
                    };
                    for row in rows {
                        let _ = writeln!(self.stats.dump, "    {}", render_row(row));
                    }
                    self.stats.dump.push('\n');
                }
                let Some(res) = self.eddy_exec(&r.sql).await else {
                    if !self.settings.pg_only {
                        self.not_compared += 1;
                    }
                    return;
                };
                match res {
                    Ok(out) => {
                        if let Some(diff) = compare(&pg, &out, *ordered) {
                            let what = if *ordered {
                                "query result differs (ordered)"
                            } else {
                                "query result differs"
                            };
                            self.stats.fail(&loc, what, &r.comment, &r.sql, &diff);
                        } else {
                            self.compare_types(&loc, &r.comment, &r.sql).await;
                        }
                    }
                    Err(e) => {
                        self.eddy_failed(&loc, r.line, "query failed on eddy", &r.comment, &r.sql, &e).await;
                    }
                }
            }
        }
    }

    /// Compares the result columns both servers describe for a query whose
    /// rows matched: their names (what psql shows and clients look columns
    /// up by) and types (a driver decodes values by them: an `avg` of
    /// integers is a Decimal, not a float).
    async fn compare_types(&mut self, loc: &str, comment: &str, sql: &str) {
        let Some(eddy) = self.eddy.as_ref() else { return };
        let timeout = self.settings.timeout;
        let pg = columns(&self.pg, sql, timeout).await;
        let ours = columns(eddy, sql, timeout).await;
        // eddy has one text type: a varchar column (and the catalogs' name
        // columns) are text (documented in
        // docs/semantics.md); drivers decode both as strings.
        let pg = pg.map(|cs| cs.into_iter().map(|(n, t)| (n, if t == "varchar" || t == "name" { "text".to_string() } else { t })).collect::<Vec<_>>());
        let (pg, ours) = match (pg, ours) {
            (Ok(pg), Ok(ours)) => (pg, ours),
            (Ok(_), Err(e)) => return self.stats.fail(loc, "describing the query failed on eddy", comment, sql, &e),
            (Err(_), _) => return, // PostgreSQL cannot describe it alone (e.g. it needs an earlier statement of the same message)
        };
        let list = |cs: &[(String, String)], f: fn(&(String, String)) -> &String| cs.iter().map(f).cloned().collect::<Vec<_>>().join(", ");
        let (pg_types, our_types) = (list(&pg, |c| &c.1), list(&ours, |c| &c.1));
        if pg_types != our_types {
            self.stats.fail(loc, "result column types differ", comment, sql, &format!("PostgreSQL: {}\neddy:       {}", pg_types, our_types));
        }
        let (pg_names, our_names) = (list(&pg, |c| &c.0), list(&ours, |c| &c.0));
        if pg_names != our_names {
            self.stats.fail(loc, "result column names differ", comment, sql, &format!("PostgreSQL: {}\neddy:       {}", pg_names, our_names));
        }
    }

    async fn after_statement(&mut self, r: &Record, pg_ok: bool, eddy_ok: bool) {
        let lead = leading_words(&r.sql, 1);
        let first = lead.first().map(String::as_str).unwrap_or("");
        match first {
            "BEGIN" | "START" => {
                self.in_txn = true;
                return;
            }
            "COMMIT" | "END" | "ROLLBACK" | "ABORT" => {
                self.in_txn = false;
                self.check_views(r, None).await;
                return;
            }
            "DROP" => {
                // Forget views that no longer exist in PostgreSQL (dropped directly or by CASCADE).
                let mut keep = Vec::new();
                for (name, line) in std::mem::take(&mut self.views) {
                    let probe = format!("SELECT 1 FROM {name} LIMIT 0");
                    if exec(&self.pg, &probe, self.settings.timeout).await.is_ok() {
                        keep.push((name, line));
                    }
                }
                self.views = keep;
                return;
            }
            "INSERT" | "UPDATE" | "DELETE" if !self.in_txn => {
                self.check_views(r, None).await;
                return;
            }
            _ => {}
        }
        if let Some(name) = created_mv_name(&r.sql) {
            if pg_ok && eddy_ok {
                self.views.retain(|(n, _)| *n != name);
                self.views.push((name.clone(), r.line));
                self.check_views(r, Some(&name)).await;
            }
        }
    }

    /// Compare `SELECT * FROM view` on both sides for every remembered view (or just `only`).
    async fn check_views(&mut self, after: &Record, only: Option<&str>) {
        let timeout = self.settings.timeout;
        let views: Vec<(String, usize)> = self
            .views
            .iter()
            .filter(|(n, _)| only.map_or(true, |o| o == n))
            .cloned()
            .collect();
        let first_line = after.sql.lines().next().unwrap_or("").trim().to_string();
        for (name, created) in views {
            self.stats.view_checks += 1;
            let sql = format!("SELECT * FROM {name}");
            let loc = self.loc(after.line);
            let what = format!(
                "materialized view {name} (created at line {created}) differs from PostgreSQL's from-scratch answer \
                 after `{first_line}`"
            );
            let pg = match exec(&self.pg, &sql, timeout).await {
                Ok(out) => out,
                // A data exception (class 22, such as division by zero) is
                // the view's from-scratch answer: eddy's must report it too.
                Err(ExecError::Db { code, message }) if code.starts_with("22") => {
                    match self.eddy_exec(&sql).await {
                        Some(Err(ExecError::Db { code: got, .. })) if got == code => {}
                        Some(other) => {
                            let got = match other {
                                Ok(out) => format!("{} rows", out.rows.len()),
                                Err(e) => e.describe(),
                            };
                            self.stats.fail(&loc, &format!("view {name} should report PostgreSQL's error {code} ({message})"), "", &sql, &got);
                        }
                        None => {}
                    }
                    continue;
                }
                Err(e) => {
                    self.stats.fail(
                        &loc,
                        &format!("PostgreSQL cannot evaluate view {name} (bug in the test file?)"),
                        "",
                        &sql,
                        &e.describe(),
                    );
                    continue;
                }
            };
            let Some(res) = self.eddy_exec(&sql).await else {
                if !self.settings.pg_only {
                    self.not_compared += 1;
                }
                continue;
            };
            match res {
                Ok(out) => {
                    if let Some(diff) = compare(&pg, &out, false) {
                        self.stats.fail(&loc, &what, "", &sql, &diff);
                    } else if created == after.line {
                        // A view's column types are fixed when it is created.
                        self.compare_types(&loc, &format!("the column types of view {name}"), &sql).await;
                    }
                }
                Err(e) => {
                    self.eddy_failed(&loc, after.line, &format!("reading view {name} failed on eddy"), "", &sql, &e).await;
                }
            }
        }
    }
}
