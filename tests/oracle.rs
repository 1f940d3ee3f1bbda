//! Correctness oracle: runs the sqllogictest-style files `tests/sql/*.slt`
//! against a real `eddy` server and a private PostgreSQL server, and fails on
//! every difference.
//!
//! # What it does
//!
//! 1. Starts a private PostgreSQL (`initdb --locale=C -E UTF8 -U postgres -A
//!    trust` into a temporary directory, then `pg_ctl start` on a free port,
//!    with `TimeZone = UTC` and `DateStyle = ISO, MDY`). The binaries are taken
//!    from `PATH`, then from `/usr/lib/postgresql/*/bin`. When the test runs as
//!    root, PostgreSQL is run as the `postgres` OS user (`runuser`, else `su`).
//!    If PostgreSQL is not installed the test fails and says
//!    `apt-get install -y postgresql`; it never skips.
//! 2. For every file `tests/sql/*.slt` (sorted by name) it creates a fresh
//!    PostgreSQL database and starts a fresh `eddy serve` process (binary built
//!    by cargo, `--workers 2`, temporary `--data-dir`), so each file starts
//!    from an empty catalog on both sides.
//! 3. Runs each record of the file on both servers and compares. If eddy
//!    drops the connection (e.g. a panic in a connection task) the failure is
//!    reported with the panic message from eddy's log and the file continues
//!    on a new connection; if the eddy process exits, the rest of the file is
//!    not run on eddy (reported once, with the count of skipped comparisons).
//! 4. Collects every failure, writes them all to
//!    `target/tmp/oracle-failures.txt`, prints a summary line
//!    `oracle: N queries, M failed (...)` and panics if anything failed.
//!
//! # File format
//!
//! Records are separated by blank lines. Lines starting with `#` are
//! comments; the comment lines of a record describe what the case checks
//! (required for `query` and `statement error` records). A record whose lines
//! are all comments is a file-level comment. Otherwise the first non-comment
//! line is the header and the remaining lines are one SQL statement (a
//! trailing `;` is optional).
//!
//! * `statement ok` — run on both servers; both must succeed.
//! * `statement ok eddy-only` — run only on eddy (e.g. `CREATE INDEX` on a
//!   materialized view, `SHOW`, `EXPLAIN`); it must succeed.
//! * `statement error <SQLSTATE>` — must fail on eddy with that SQLSTATE. It
//!   is also run on PostgreSQL, which must fail with the same code (so the
//!   expected code is checked against the oracle).
//! * `statement error <SQLSTATE> eddy-only` — eddy-specific error (e.g.
//!   `0A000`); not run on PostgreSQL.
//! * `query` / `query rowsort` — run on both via the simple query protocol
//!   (text results); the row lists are compared as multisets.
//! * `query ordered` — the query has a top-level `ORDER BY` that determines
//!   the order completely; rows are compared in order.
//!
//! `CREATE [OR REPLACE] MATERIALIZED VIEW` / `DROP MATERIALIZED VIEW` are run
//! on PostgreSQL as plain `CREATE VIEW` / `DROP VIEW`, so PostgreSQL recomputes
//! the answer from scratch on every read. The harness remembers every
//! materialized view; right after it is created, and after every
//! INSERT/UPDATE/DELETE outside a transaction and every COMMIT/ROLLBACK, it
//! runs `SELECT * FROM <view>` on both sides and compares the results as
//! multisets: after each batch of changes every incrementally maintained view
//! must equal the from-scratch answer. Views dropped (directly or by CASCADE)
//! are forgotten.
//!
//! # Environment variables
//!
//! * `ORACLE_PG_ONLY=1` — run only the PostgreSQL side (no eddy): every
//!   `statement ok` must succeed, every `statement error` must fail with its
//!   code, every query and view must run. Use it to validate `.slt` files.
//! * `ORACLE_FILTER=substr` — only run files whose name contains `substr`.
//! * `ORACLE_WORKERS=N` — `--workers` for eddy (default 2).
//! * `ORACLE_TIMEOUT_SECS=N` — per-statement timeout (default 60).
//! * `ORACLE_DUMP=1` — write every query with PostgreSQL's answer to
//!   `target/tmp/oracle-dump.txt` (to review new cases).
//! * `ORACLE_SELF_TEST=1` — check the harness itself: the "eddy" side is a
//!   second PostgreSQL database in which materialized views are real ones that
//!   are never refreshed, so every view check after a change must fail.
//! * `ORACLE_KEEP=1` — keep the temporary directory (PostgreSQL log, eddy
//!   stderr per file) and print its path.

//!
//! # Layout
//!
//! This file is the entry point (the test and the loop over the files); the
//! harness lives in `tests/oracle/`:
//!
//! * `common.rs` — the settings above, the temporary directory, helpers;
//! * `postgres.rs` — the private PostgreSQL server;
//! * `eddy.rs` — the `eddy serve` process;
//! * `slt.rs` — the `.slt` parser and the statement rewriting for PostgreSQL;
//! * `client.rs` — connecting and running one statement on either server;
//! * `compare.rs` — comparing the two answers and describing the difference;
//! * `report.rs` — failure collection, the summary and the report file;
//! * `runner.rs` — running one file's records on both servers.

#[path = "oracle/client.rs"]
mod client;
#[path = "oracle/common.rs"]
mod common;
#[path = "oracle/compare.rs"]
mod compare;
#[path = "oracle/eddy.rs"]
mod eddy;
#[path = "oracle/postgres.rs"]
mod postgres;
#[path = "oracle/report.rs"]
mod report;
#[path = "oracle/runner.rs"]
mod runner;
#[path = "oracle/slt.rs"]
mod slt;

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use client::{connect, exec};
use common::{say, tail, Settings, TempDir};
use eddy::Eddy;
use postgres::Postgres;
use report::Stats;
use runner::FileRun;
use slt::parse_file;

#[test]
fn oracle() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run_all());
}

async fn run_all() {
    let settings = Settings::from_env();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sql_dir = root.join("tests").join("sql");
    let mut files: Vec<PathBuf> = fs::read_dir(&sql_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", sql_dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .filter(|p| {
            settings.filter.as_ref().map_or(true, |f| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(f.as_str()))
            })
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no .slt files in {} (filter {:?})",
        sql_dir.display(),
        settings.filter
    );

    // Parse everything first: a malformed file is reported before any server starts.
    let mut parsed = Vec::new();
    let mut parse_errors = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&root).unwrap_or(path).to_path_buf();
        let text =
            fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        match parse_file(&rel, &text) {
            Ok(records) => parsed.push((rel, records)),
            Err(errs) => parse_errors.extend(errs),
        }
    }
    assert!(
        parse_errors.is_empty(),
        "malformed .slt files:\n{}",
        parse_errors.join("\n")
    );

    let tmp = TempDir::new(settings.keep);
    let pg = Postgres::start(&tmp.path).unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}"));
    let admin = connect(&pg.conn_string("postgres"))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL: {e}\n{}", tail(&pg.log, 40)));
    say(&format!(
        "oracle: PostgreSQL from {} on port {}{}",
        pg.bin.display(),
        pg.port,
        if settings.pg_only {
            " (ORACLE_PG_ONLY: eddy is not run)"
        } else {
            ""
        }
    ));

    let mut stats = Stats::default();
    for (idx, (rel, records)) in parsed.iter().enumerate() {
        stats.files += 1;
        let file = rel.display().to_string();
        let stem = rel
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let db = format!("oracle_{idx}");
        let started = Instant::now();
        if let Err(e) = exec(&admin, &format!("CREATE DATABASE {db}"), settings.timeout).await {
            stats.fail(
                &file,
                "cannot create PostgreSQL database",
                "",
                "",
                &e.describe(),
            );
            continue;
        }
        let pg_client = match connect(&pg.conn_string(&db)).await {
            Ok(c) => c,
            Err(e) => {
                stats.fail(&file, "cannot connect to PostgreSQL database", "", "", &e);
                continue;
            }
        };
        let (eddy_proc, eddy) = if settings.pg_only {
            (None, None)
        } else if settings.self_test {
            // Harness self-test: the "eddy" side is a second PostgreSQL database where
            // materialized views are real (never refreshed) ones, so view checks must fail.
            let db2 = format!("{db}_self");
            let _ = exec(&admin, &format!("CREATE DATABASE {db2}"), settings.timeout).await;
            (None, connect(&pg.conn_string(&db2)).await.ok())
        } else {
            match Eddy::start(&tmp.path, &stem, settings.workers).await {
                Ok((p, c)) => (Some(p), Some(c)),
                Err(e) => {
                    stats.fail(
                        &file,
                        "cannot start the eddy server; no case of this file is run on eddy",
                        "",
                        "",
                        &e,
                    );
                    (None, None)
                }
            }
        };
        let failures_before = stats.failures.len();
        let queries_before = stats.queries;
        let mut run = FileRun {
            settings: &settings,
            stats: &mut stats,
            file: file.clone(),
            pg: pg_client,
            eddy_dead: eddy.is_none() && !settings.pg_only,
            eddy_proc,
            eddy,
            views: Vec::new(),
            in_txn: false,
            not_compared: 0,
        };
        for r in records {
            run.run_record(r).await;
        }
        if run.not_compared > 0 {
            let n = run.not_compared;
            run.stats.fail(
                &file,
                &format!("{n} queries/view checks of this file were not compared because eddy is not running"),
                "",
                "",
                "",
            );
        }
        drop(run);
        say(&format!(
            "oracle: {file}: {} queries, {} failures, {:.1}s",
            stats.queries - queries_before,
            stats.failures.len() - failures_before,
            started.elapsed().as_secs_f64()
        ));
    }

    let failed = stats.failures.len();
    let summary = stats.summary(&settings);
    let report_path = stats.write_report(&summary, &settings);
    drop(admin);
    drop(pg);
    drop(tmp);
    say(&summary);
    if failed > 0 {
        panic!(
            "{failed} oracle failures (all of them are in {}):\n\n{}\n{summary}",
            report_path.display(),
            stats.failures.join("\n")
        );
    }
}
