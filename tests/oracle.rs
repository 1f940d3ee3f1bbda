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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const INSTALL_HINT: &str = "PostgreSQL is required by the oracle test: install it with \
     `apt-get install -y postgresql` (Debian/Ubuntu), or put initdb and pg_ctl on PATH";

#[test]
fn oracle() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run_all());
}

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

struct Settings {
    pg_only: bool,
    filter: Option<String>,
    workers: usize,
    timeout: Duration,
    keep: bool,
    self_test: bool,
    dump: bool,
}

impl Settings {
    fn from_env() -> Settings {
        let flag = |name: &str| {
            std::env::var(name)
                .map(|v| !v.is_empty() && v != "0" && v != "false")
                .unwrap_or(false)
        };
        Settings {
            pg_only: flag("ORACLE_PG_ONLY"),
            filter: std::env::var("ORACLE_FILTER")
                .ok()
                .filter(|s| !s.is_empty()),
            workers: std::env::var("ORACLE_WORKERS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(2),
            timeout: Duration::from_secs(
                std::env::var("ORACLE_TIMEOUT_SECS")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(60),
            ),
            keep: flag("ORACLE_KEEP"),
            self_test: flag("ORACLE_SELF_TEST"),
            dump: flag("ORACLE_DUMP"),
        }
    }
}

// ---------------------------------------------------------------------------
// Temporary directory
// ---------------------------------------------------------------------------

struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    fn new(keep: bool) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        // Keep the path short: it holds PostgreSQL's unix socket (path limit ~107 bytes).
        let base = if is_root() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let path = base.join(format!("eddy-oracle-{}-{:x}", std::process::id(), nanos));
        fs::create_dir_all(&path).expect("create temporary directory");
        TempDir { path, keep }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            say(&format!(
                "oracle: kept temporary directory {}",
                self.path.display()
            ));
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn is_root() -> bool {
    // Effective uid from /proc (no libc dependency); fall back to `id -u`.
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(rest) = line.strip_prefix("Uid:") {
                if let Some(euid) = rest.split_whitespace().nth(1) {
                    return euid == "0";
                }
            }
        }
    }
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Progress output written straight to stderr, so it shows even when the test
/// harness captures output of passing tests.
fn say(msg: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{msg}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free TCP port")
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()));
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

/// The interesting part of eddy's log: every panic message (with the two
/// lines after it), else the last lines.
fn log_excerpt(path: &Path) -> String {
    excerpt_of(&fs::read_to_string(path).unwrap_or_default())
}

fn excerpt_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.contains("panicked at") {
            out.extend(lines[i..(i + 3).min(lines.len())].iter().copied());
            if out.len() >= 30 {
                break;
            }
        }
    }
    if out.is_empty() {
        lines[lines.len().saturating_sub(30)..].join("\n")
    } else {
        out.join("\n")
    }
}

// ---------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------

struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    run_as_postgres: bool,
    port: u16,
    cwd: PathBuf,
}

fn find_pg_bin() -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let initdb = dir.join("initdb");
            if initdb.is_file() {
                // pg_ctl normally sits beside initdb; follow symlinks to find the real dir.
                let real = fs::canonicalize(&initdb).unwrap_or(initdb.clone());
                for d in [real.parent().map(Path::to_path_buf), Some(dir.clone())]
                    .into_iter()
                    .flatten()
                {
                    if d.join("pg_ctl").is_file() {
                        return Some(d);
                    }
                }
            }
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Postgres {
    /// A command running PostgreSQL program `prog`, as the `postgres` OS user when we are root.
    fn command(&self, prog: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(prog);
        let mut cmd;
        if self.run_as_postgres {
            if Path::new("/usr/sbin/runuser").exists() || Path::new("/sbin/runuser").exists() {
                cmd = Command::new("runuser");
                cmd.args(["-u", "postgres", "--"]).arg(&exe).args(args);
            } else {
                let mut line = shell_quote(&exe.to_string_lossy());
                for a in args {
                    line.push(' ');
                    line.push_str(&shell_quote(a));
                }
                cmd = Command::new("su");
                cmd.args(["postgres", "-s", "/bin/sh", "-c", &line]);
            }
        } else {
            cmd = Command::new(exe);
            cmd.args(args);
        }
        cmd.current_dir(&self.cwd);
        cmd.env("LC_ALL", "C");
        cmd
    }

    fn start(dir: &Path) -> Result<Postgres, String> {
        let bin = find_pg_bin().ok_or_else(|| {
            format!("initdb/pg_ctl not found in PATH or /usr/lib/postgresql/*/bin. {INSTALL_HINT}")
        })?;
        let run_as_postgres = is_root();
        if run_as_postgres {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "running as root, but cannot chown {} to the `postgres` user (does it exist? \
                     it is created by `apt-get install -y postgresql`)",
                    dir.display()
                ));
            }
        }
        let pg = Postgres {
            bin,
            data: dir.join("pgdata"),
            log: dir.join("postgres.log"),
            run_as_postgres,
            port: free_port(),
            cwd: dir.to_path_buf(),
        };
        let data = pg.data.to_string_lossy().to_string();
        let out = pg
            .command(
                "initdb",
                &[
                    "--locale=C",
                    "-E",
                    "UTF8",
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-D",
                    &data,
                ],
            )
            .output()
            .map_err(|e| {
                format!(
                    "cannot run initdb from {}: {e}. {INSTALL_HINT}",
                    pg.bin.display()
                )
            })?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed ({}):\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let conf = format!(
            "\n# added by tests/oracle.rs\n\
             port = {port}\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{dir}'\n\
             timezone = 'UTC'\n\
             log_timezone = 'UTC'\n\
             datestyle = 'iso, mdy'\n\
             intervalstyle = 'postgres'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             max_connections = 30\n",
            port = pg.port,
            dir = dir.display()
        );
        let conf_path = pg.data.join("postgresql.conf");
        let mut text =
            fs::read_to_string(&conf_path).map_err(|e| format!("read postgresql.conf: {e}"))?;
        text.push_str(&conf);
        fs::write(&conf_path, text).map_err(|e| format!("write postgresql.conf: {e}"))?;

        let log = pg.log.to_string_lossy().to_string();
        let out = pg
            .command(
                "pg_ctl",
                &["-D", &data, "-l", &log, "-w", "-t", "120", "start"],
            )
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_ctl start failed ({}):\n{}\n{}\n--- postgres.log ---\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                tail(&pg.log, 40)
            ));
        }
        Ok(pg)
    }

    fn conn_string(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.to_string_lossy().to_string();
        let _ = self
            .command("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

// ---------------------------------------------------------------------------
// eddy
// ---------------------------------------------------------------------------

struct Eddy {
    child: Child,
    stderr: PathBuf,
    port: u16,
    /// How much of the log has been shown in failure reports already.
    log_seen: usize,
}

impl Eddy {
    async fn start(dir: &Path, name: &str, workers: usize) -> Result<(Eddy, Client), String> {
        let data_dir = dir.join(format!("eddy-data-{name}"));
        fs::create_dir_all(&data_dir).map_err(|e| format!("create eddy data dir: {e}"))?;
        let stderr = dir.join(format!("eddy-{name}.log"));
        let log = fs::File::create(&stderr).map_err(|e| format!("create eddy log: {e}"))?;
        let log2 = log
            .try_clone()
            .map_err(|e| format!("clone eddy log: {e}"))?;
        let port = free_port();
        let bin = env!("CARGO_BIN_EXE_eddy");
        let child = Command::new(bin)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--http", "127.0.0.1:0"])
            .arg("--workers")
            .arg(workers.to_string())
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start {bin}: {e}"))?;
        let mut eddy = Eddy {
            child,
            stderr,
            port,
            log_seen: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let conn = eddy.conn_string();
        let mut last_err;
        loop {
            if let Ok(Some(status)) = eddy.child.try_wait() {
                return Err(format!(
                    "eddy server exited ({status}) before accepting connections; \
                     command: {bin} serve --listen 127.0.0.1:{port} --workers {workers} --data-dir {}\n\
                     --- eddy output ---\n{}",
                    data_dir.display(),
                    log_excerpt(&eddy.stderr)
                ));
            }
            match tokio::time::timeout(Duration::from_secs(10), connect(&conn)).await {
                Ok(Ok(client)) => return Ok((eddy, client)),
                Ok(Err(e)) => last_err = e,
                Err(_) => last_err = "connect timed out".into(),
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "eddy server did not accept connections on 127.0.0.1:{port} within 60s \
                     (last error: {last_err})\n--- eddy output ---\n{}",
                    log_excerpt(&eddy.stderr)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Excerpt of the log written since the last call.
    fn new_log_excerpt(&mut self) -> String {
        let text = fs::read_to_string(&self.stderr).unwrap_or_default();
        let start = self.log_seen.min(text.len());
        let start = (start..=text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        self.log_seen = text.len();
        excerpt_of(&text[start..])
    }

    fn conn_string(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=eddy dbname=eddy connect_timeout=5",
            self.port
        )
    }

    /// `Some(description)` when the process has exited.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "eddy server (port {}) exited ({status})\n--- eddy output ---\n{}",
                self.port,
                log_excerpt(&self.stderr)
            )),
            _ => None,
        }
    }
}

impl Drop for Eddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(conn: &str) -> Result<Client, String> {
    let (client, connection) = tokio_postgres::connect(conn, NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

// ---------------------------------------------------------------------------
// Parsing .slt files
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    StatementOk { eddy_only: bool },
    StatementError { code: String, eddy_only: bool },
    Query { ordered: bool },
}

#[derive(Debug, Clone)]
struct Record {
    line: usize,
    comment: String,
    kind: Kind,
    sql: String,
}

fn parse_file(path: &Path, text: &str) -> Result<Vec<Record>, Vec<String>> {
    let name = path.display();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        let mut para: Vec<(usize, &str)> = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            para.push((i + 1, lines[i]));
            i += 1;
        }
        let comment: Vec<&str> = para
            .iter()
            .filter(|(_, l)| l.trim_start().starts_with('#'))
            .map(|(_, l)| l.trim_start().trim_start_matches('#').trim())
            .collect();
        let body: Vec<(usize, &str)> = para
            .iter()
            .copied()
            .filter(|(_, l)| !l.trim_start().starts_with('#'))
            .collect();
        if body.is_empty() {
            continue; // file-level comment
        }
        let (hline, header) = body[0];
        let sql = body[1..]
            .iter()
            .map(|(_, l)| *l)
            .collect::<Vec<_>>()
            .join("\n");
        let sql = sql.trim().trim_end_matches(';').trim_end().to_string();
        let words: Vec<&str> = header.split_whitespace().collect();
        let loc = format!("{name}:{hline}");
        let kind = match words.as_slice() {
            ["statement", "ok"] => Some(Kind::StatementOk { eddy_only: false }),
            ["statement", "ok", "eddy-only"] => Some(Kind::StatementOk { eddy_only: true }),
            ["statement", "error", code] => Some(Kind::StatementError {
                code: code.to_string(),
                eddy_only: false,
            }),
            ["statement", "error", code, "eddy-only"] => Some(Kind::StatementError {
                code: code.to_string(),
                eddy_only: true,
            }),
            ["query"] | ["query", "rowsort"] => Some(Kind::Query { ordered: false }),
            ["query", "ordered"] => Some(Kind::Query { ordered: true }),
            _ => {
                errors.push(format!("{loc}: unknown record header `{header}`"));
                None
            }
        };
        let Some(kind) = kind else { continue };
        if sql.is_empty() {
            errors.push(format!("{loc}: record has no SQL"));
            continue;
        }
        if let Kind::StatementError { code, .. } = &kind {
            if code.len() != 5 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                errors.push(format!("{loc}: `{code}` is not a SQLSTATE (5 characters)"));
            }
        }
        if matches!(kind, Kind::Query { .. } | Kind::StatementError { .. }) && comment.is_empty() {
            errors.push(format!(
                "{loc}: case has no `#` comment saying what it checks"
            ));
        }
        if kind == (Kind::Query { ordered: true }) && !sql.to_ascii_uppercase().contains("ORDER BY")
        {
            errors.push(format!(
                "{loc}: `query ordered` but the query has no ORDER BY"
            ));
        }
        let _ = start;
        records.push(Record {
            line: hline,
            comment: comment.join(" "),
            kind,
            sql,
        });
    }
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(errors)
    }
}

/// Upper-cased leading words of a statement (skipping `--` comment lines).
fn leading_words(sql: &str, n: usize) -> Vec<String> {
    sql.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .flat_map(|l| l.split_whitespace())
        .take(n)
        .map(|w| w.to_ascii_uppercase())
        .collect()
}

/// For `CREATE [OR REPLACE] MATERIALIZED VIEW [IF NOT EXISTS] name ...`, the view name.
fn created_mv_name(sql: &str) -> Option<String> {
    let words: Vec<&str> = sql.split_whitespace().take(10).collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let pos = upper.iter().position(|w| w == "MATERIALIZED")?;
    if upper.first().map(String::as_str) != Some("CREATE")
        || upper.get(pos + 1).map(String::as_str) != Some("VIEW")
    {
        return None;
    }
    let mut k = pos + 2;
    if upper.get(k).map(String::as_str) == Some("IF") {
        k += 3;
    }
    let raw = words.get(k)?;
    let name = raw.split('(').next().unwrap_or(raw).trim_end_matches(';');
    (!name.is_empty()).then(|| name.to_string())
}

/// The statement as PostgreSQL should run it: materialized views become plain views.
fn pg_sql(sql: &str) -> String {
    let lead = leading_words(sql, 4);
    let is_mv_ddl = matches!(
        lead.first().map(String::as_str),
        Some("CREATE" | "DROP" | "ALTER")
    ) && lead.iter().any(|w| w == "MATERIALIZED");
    if !is_mv_ddl {
        return sql.to_string();
    }
    let upper = sql.to_ascii_uppercase(); // same byte offsets as `sql`
    match upper.find("MATERIALIZED") {
        Some(at) => {
            let rest = &sql[at + "MATERIALIZED".len()..];
            format!("{}{}", &sql[..at], rest.trim_start())
        }
        None => sql.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Running statements
// ---------------------------------------------------------------------------

type Row = Vec<Option<String>>;

struct Output {
    columns: Option<usize>,
    rows: Vec<Row>,
}

enum ExecError {
    /// The server answered with an error.
    Db { code: String, message: String },
    /// Connection trouble, protocol error, or timeout.
    Other(String),
}

impl ExecError {
    fn describe(&self) -> String {
        match self {
            ExecError::Db { code, message } => format!("ERROR {code}: {message}"),
            ExecError::Other(m) => format!("client error: {m}"),
        }
    }
}

async fn exec(client: &Client, sql: &str, timeout: Duration) -> Result<Output, ExecError> {
    let res = tokio::time::timeout(timeout, client.simple_query(sql)).await;
    let msgs = match res {
        Err(_) => {
            return Err(ExecError::Other(format!(
                "timed out after {}s",
                timeout.as_secs()
            )))
        }
        Ok(Err(e)) => {
            return Err(match e.as_db_error() {
                Some(db) => {
                    let mut message = db.message().to_string();
                    if let Some(d) = db.detail() {
                        message.push_str(&format!(" (detail: {d})"));
                    }
                    ExecError::Db {
                        code: db.code().code().to_string(),
                        message,
                    }
                }
                None => ExecError::Other(e.to_string()),
            })
        }
        Ok(Ok(msgs)) => msgs,
    };
    let mut out = Output {
        columns: None,
        rows: Vec::new(),
    };
    for m in msgs {
        match m {
            SimpleQueryMessage::RowDescription(cols) => out.columns = Some(cols.len()),
            SimpleQueryMessage::Row(row) => {
                out.columns.get_or_insert(row.len());
                out.rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                );
            }
            _ => {}
        }
    }
    Ok(out)
}

fn render_row(row: &Row) -> String {
    row.iter()
        .map(|v| match v {
            None => "NULL".to_string(),
            Some(s) if s.is_empty() => "(empty)".to_string(),
            Some(s) => s.clone(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Describes the difference between PostgreSQL's rows (`expected`) and eddy's
/// (`actual`), or `None` when they agree.
fn compare(expected: &Output, actual: &Output, ordered: bool) -> Option<String> {
    const MAX: usize = 25;
    let mut out = String::new();
    if let (Some(e), Some(a)) = (expected.columns, actual.columns) {
        if e != a {
            let _ = writeln!(out, "column count differs: PostgreSQL {e}, eddy {a}");
        }
    }
    let mut exp = expected.rows.clone();
    let mut act = actual.rows.clone();
    if ordered && exp == act && out.is_empty() {
        return None;
    }
    exp.sort();
    act.sort();
    if exp == act {
        if out.is_empty() && !ordered {
            return None;
        }
        if ordered {
            let _ = writeln!(out, "same rows, different order");
            let _ = writeln!(out, "PostgreSQL (expected) order:");
            for r in expected.rows.iter().take(MAX) {
                let _ = writeln!(out, "    {}", render_row(r));
            }
            let _ = writeln!(out, "eddy order:");
            for r in actual.rows.iter().take(MAX) {
                let _ = writeln!(out, "    {}", render_row(r));
            }
        }
        return Some(out);
    }
    let mut counts: BTreeMap<&Row, i64> = BTreeMap::new();
    for r in &exp {
        *counts.entry(r).or_default() += 1;
    }
    for r in &act {
        *counts.entry(r).or_default() -= 1;
    }
    let _ = writeln!(
        out,
        "PostgreSQL: {} rows, eddy: {} rows",
        exp.len(),
        act.len()
    );
    let missing: Vec<(&Row, i64)> = counts
        .iter()
        .filter(|(_, c)| **c > 0)
        .map(|(r, c)| (*r, *c))
        .collect();
    let extra: Vec<(&Row, i64)> = counts
        .iter()
        .filter(|(_, c)| **c < 0)
        .map(|(r, c)| (*r, -*c))
        .collect();
    let times = |c: i64| {
        if c > 1 {
            format!("   (x{c})")
        } else {
            String::new()
        }
    };
    if !missing.is_empty() {
        let _ = writeln!(out, "missing in eddy (PostgreSQL has them):");
        for (r, c) in missing.iter().take(MAX) {
            let _ = writeln!(out, "  - {}{}", render_row(r), times(*c));
        }
        if missing.len() > MAX {
            let _ = writeln!(out, "  ... {} more", missing.len() - MAX);
        }
    }
    if !extra.is_empty() {
        let _ = writeln!(out, "unexpected in eddy (PostgreSQL does not have them):");
        for (r, c) in extra.iter().take(MAX) {
            let _ = writeln!(out, "  + {}{}", render_row(r), times(*c));
        }
        if extra.len() > MAX {
            let _ = writeln!(out, "  ... {} more", extra.len() - MAX);
        }
    }
    if exp.len() <= MAX && act.len() <= MAX {
        let _ = writeln!(out, "PostgreSQL (expected):");
        for r in if ordered { &expected.rows } else { &exp } {
            let _ = writeln!(out, "    {}", render_row(r));
        }
        let _ = writeln!(out, "eddy (actual):");
        for r in if ordered { &actual.rows } else { &act } {
            let _ = writeln!(out, "    {}", render_row(r));
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Stats {
    files: usize,
    queries: usize,
    statements: usize,
    error_cases: usize,
    view_checks: usize,
    failures: Vec<String>,
    /// PostgreSQL's answers, written out with `ORACLE_DUMP=1`.
    dump: String,
}

impl Stats {
    fn fail(&mut self, loc: &str, what: &str, comment: &str, sql: &str, detail: &str) {
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
}

struct FileRun<'a> {
    settings: &'a Settings,
    stats: &'a mut Stats,
    file: String,
    pg: Client,
    /// The eddy process (absent in PG-only and self-test modes).
    eddy_proc: Option<Eddy>,
    /// The client the eddy side of every comparison runs on.
    eddy: Option<Client>,
    /// Materialized views created so far: name -> (line of creation).
    views: Vec<(String, usize)>,
    in_txn: bool,
    /// Set when eddy died or lost the connection: remaining records are not run on eddy.
    eddy_dead: bool,
    /// Queries and view checks not compared because eddy is not running.
    not_compared: usize,
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

    async fn run_record(&mut self, r: &Record) {
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
                        self.stats.fail(
                            &loc,
                            "statement failed on eddy",
                            &r.comment,
                            &r.sql,
                            &e.describe(),
                        );
                        if matches!(e, ExecError::Other(_)) {
                            self.recover_eddy(r.line).await;
                        }
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
                            self.stats.fail(
                                &loc,
                                &format!(
                                    "eddy fails with the wrong error (expected SQLSTATE {code})"
                                ),
                                &r.comment,
                                &r.sql,
                                &e.describe(),
                            );
                            if matches!(e, ExecError::Other(_)) {
                                self.recover_eddy(r.line).await;
                            }
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
                        }
                    }
                    Err(e) => {
                        self.stats.fail(
                            &loc,
                            "query failed on eddy",
                            &r.comment,
                            &r.sql,
                            &e.describe(),
                        );
                        if matches!(e, ExecError::Other(_)) {
                            self.recover_eddy(r.line).await;
                        }
                    }
                }
            }
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
                    }
                }
                Err(e) => {
                    self.stats.fail(
                        &loc,
                        &format!("reading view {name} failed on eddy"),
                        "",
                        &sql,
                        &e.describe(),
                    );
                    if matches!(e, ExecError::Other(_)) {
                        self.recover_eddy(after.line).await;
                    }
                }
            }
        }
    }
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
    let summary = format!(
        "oracle: {} queries, {failed} failed ({} files, {} view checks, {} statements, {} error cases{})",
        stats.queries,
        stats.files,
        stats.view_checks,
        stats.statements,
        stats.error_cases,
        if settings.pg_only { ", PostgreSQL only" } else { "" }
    );
    let report_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oracle-failures.txt");
    let mut report = stats.failures.join("\n");
    report.push_str(&format!("\n{summary}\n"));
    let _ = fs::create_dir_all(report_path.parent().unwrap());
    let _ = fs::write(&report_path, &report);
    if settings.dump {
        let dump_path = report_path.with_file_name("oracle-dump.txt");
        let _ = fs::write(&dump_path, &stats.dump);
        say(&format!(
            "oracle: PostgreSQL answers written to {}",
            dump_path.display()
        ));
    }
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
