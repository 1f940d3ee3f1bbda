//! psql's meta-commands against a real eddy server: runs the `psql` binary
//! (PostgreSQL's client, `apt-get install postgresql-client`) with `\d`,
//! `\dt`, `\dv`, `\dm`, `\di`, `\d NAME`, `\d+ NAME`, `\l`, `\dn`, `\du`,
//! `\df`, `\gdesc` and `\sv`, and checks what it prints. psql answers these from catalog queries that eddy
//! recognizes (sql/src/psql), so any query eddy fails to answer shows up as
//! an error on psql's stderr here.

mod server;

use server::EddyServer;
use std::process::Command;

/// Runs a psql script (SQL and backslash commands, fed on stdin) and
/// returns its exit status, stdout and stderr.
fn psql_raw(server: &EddyServer, script: &str) -> (bool, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new("psql")
        .args(["-X", "-w", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &server.port.to_string(), "-U", "eddy", "-d", "eddy", "-f", "-"])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run psql");
    child.stdin.take().expect("stdin").write_all(format!("{}\n", script).as_bytes()).expect("write to psql");
    let out = child.wait_with_output().expect("wait for psql");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs a psql script and returns what it printed; fails on any error or
/// message on stderr.
fn psql(server: &EddyServer, script: &str) -> String {
    let (ok, stdout, stderr) = psql_raw(server, script);
    assert!(ok && stderr.is_empty(), "psql failed on {:?}:\nstdout:\n{}\nstderr:\n{}", script, stdout, stderr);
    stdout
}

/// What psql said on stderr for a script that finds nothing.
fn psql_not_found(server: &EddyServer, script: &str) -> String {
    let (_, stdout, stderr) = psql_raw(server, script);
    assert!(stdout.is_empty(), "psql printed for {:?}:\n{}", script, stdout);
    stderr
}

/// Whether psql's aligned output has a row with exactly these cells.
fn has_row(out: &str, cells: &[&str]) -> bool {
    out.lines().any(|l| l.split('|').map(str::trim).eq(cells.iter().copied()))
}

fn assert_row(out: &str, cells: &[&str]) {
    assert!(has_row(out, cells), "no row {:?} in:\n{}", cells, out);
}

fn assert_contains(out: &str, needle: &str) {
    assert!(out.contains(needle), "{:?} not in:\n{}", needle, out);
}

#[test]
fn meta_commands() {
    match Command::new("psql").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => panic!("psql is missing: install it with `apt-get install -y postgresql-client` (scripts/test does)"),
    }
    let server = EddyServer::start();

    assert_contains(&psql_not_found(&server, "\\d"), "Did not find any relations.");
    psql(
        &server,
        "CREATE TABLE orders (id bigint NOT NULL, customer text, amount numeric(10,2), placed_at timestamptz, paid boolean, items jsonb);
         CREATE VIEW big_orders AS SELECT id, customer FROM orders WHERE amount > 100;
         CREATE MATERIALIZED VIEW customer_totals AS SELECT customer, count(*) AS n FROM orders GROUP BY customer;
         CREATE INDEX customer_totals_customer ON customer_totals (customer);",
    );

    let all = psql(&server, "\\d");
    assert_row(&all, &["Schema", "Name", "Type", "Owner"]);
    assert_row(&all, &["public", "orders", "table", "eddy"]);
    assert_row(&all, &["public", "big_orders", "view", "eddy"]);
    assert_row(&all, &["public", "customer_totals", "materialized view", "eddy"]);
    assert_contains(&all, "(3 rows)");

    let tables = psql(&server, "\\dt");
    assert_row(&tables, &["public", "orders", "table", "eddy"]);
    assert_contains(&tables, "(1 row)");
    let views = psql(&server, "\\dv");
    assert_row(&views, &["public", "big_orders", "view", "eddy"]);
    assert_contains(&views, "(1 row)");
    let matviews = psql(&server, "\\dm");
    assert_row(&matviews, &["public", "customer_totals", "materialized view", "eddy"]);
    assert_contains(&matviews, "(1 row)");
    assert_row(&psql(&server, "\\di"), &["public", "customer_totals_customer", "index", "eddy", "customer_totals"]);
    assert_row(&psql(&server, "\\dt+"), &["public", "orders", "table", "eddy", "permanent", "heap", "", ""]);
    assert_contains(&psql(&server, "\\dm cust*"), "(1 row)");
    assert_contains(&psql_not_found(&server, "\\dt nomatch*"), "Did not find any relation named \"nomatch*\".");

    let table = psql(&server, "\\d orders");
    assert_contains(&table, "Table \"public.orders\"");
    assert_row(&table, &["Column", "Type", "Collation", "Nullable", "Default"]);
    assert_row(&table, &["id", "bigint", "", "not null", ""]);
    assert_row(&table, &["customer", "text", "", "", ""]);
    assert_row(&table, &["amount", "numeric(10,2)", "", "", ""]);
    assert_row(&table, &["placed_at", "timestamp with time zone", "", "", ""]);
    assert_row(&table, &["paid", "boolean", "", "", ""]);
    assert_row(&table, &["items", "jsonb", "", "", ""]);

    let view = psql(&server, "\\d big_orders");
    assert_contains(&view, "View \"public.big_orders\"");
    assert_row(&view, &["id", "bigint", "", "not null", ""]);
    assert_row(&view, &["customer", "text", "", "", ""]);
    let view = psql(&server, "\\d+ big_orders");
    assert_contains(&view, "View definition:\n SELECT id, customer FROM orders WHERE amount > 100;");
    // \sv shows a view's statement; a materialized view is "not a view", as in psql against PostgreSQL.
    assert_contains(&psql(&server, "\\sv big_orders"), "CREATE OR REPLACE VIEW public.big_orders AS\n SELECT id, customer FROM orders WHERE amount > 100");
    assert_contains(&psql_not_found(&server, "\\sv customer_totals"), "\"public.customer_totals\" is not a view");
    assert_contains(&psql_not_found(&server, "\\sv nosuch"), "relation \"nosuch\" does not exist");

    let matview = psql(&server, "\\d customer_totals");
    assert_contains(&matview, "Materialized view \"public.customer_totals\"");
    assert_row(&matview, &["customer", "text", "", "", ""]);
    assert_row(&matview, &["n", "bigint", "", "not null", ""]);
    assert_contains(&matview, "Indexes:\n    \"customer_totals_customer\" arrangement (customer)");
    assert_contains(&psql(&server, "\\d+ customer_totals"), "View definition:\n SELECT customer, count(*) AS n FROM orders GROUP BY customer;");

    let index = psql(&server, "\\d customer_totals_customer");
    assert_contains(&index, "Index \"public.customer_totals_customer\"");
    assert_row(&index, &["customer", "text", "yes", "customer"]);
    assert_contains(&index, "arrangement, for table \"public.customer_totals\"");

    assert_contains(&psql_not_found(&server, "\\d nosuch"), "Did not find any relation named \"nosuch\".");
    assert_row(&psql(&server, "\\l"), &["eddy", "eddy", "UTF8", "C", "C", "", "libc", ""]);
    assert_row(&psql(&server, "\\dn"), &["public", "eddy"]);
    assert_row(&psql(&server, "\\du"), &["eddy", "Superuser, Create role, Create DB", "{}"]);
    assert_contains(&psql(&server, "\\df"), "(0 rows)");
    let gdesc = psql(&server, "SELECT customer, n FROM customer_totals \\gdesc");
    assert_row(&gdesc, &["customer", "text"]);
    assert_row(&gdesc, &["n", "bigint"]);
}
