//! Transaction blocks as PostgreSQL clients rely on them: an error aborts
//! the block (COMMIT then rolls back), and a transaction that deletes or
//! updates rows another session changed meanwhile fails at COMMIT with
//! 40001 instead of retracting rows twice. Also the statements clients
//! send around transactions (DEALLOCATE, DISCARD, SET TIME ZONE) and
//! REFRESH MATERIALIZED VIEW.

mod server;
mod sql_client;

use server::EddyServer;
use sql_client::query;
use tokio_postgres::{Client, NoTls};

async fn connect(server: &EddyServer) -> Client {
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

async fn fails(c: &Client, sql: &str) -> String {
    let err = c.simple_query(sql).await.expect_err(sql);
    err.code().map(|c| c.code().to_string()).unwrap_or_default()
}

async fn ok(c: &Client, sql: &str) {
    c.simple_query(sql).await.unwrap_or_else(|e| panic!("{}: {:?}", sql, e));
}

fn one(v: &str) -> Vec<Vec<Option<String>>> {
    vec![vec![Some(v.to_string())]]
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_aborts_the_transaction_block() {
    let server = EddyServer::start();
    let c = connect(&server).await;
    c.batch_execute("CREATE TABLE acct (id int, bal int); INSERT INTO acct VALUES (1, 10)").await.unwrap();
    c.batch_execute("BEGIN; INSERT INTO acct VALUES (2, 20)").await.unwrap();
    assert_eq!(fails(&c, "SELECT 1 / 0").await, "22012");
    assert_eq!(fails(&c, "INSERT INTO acct VALUES (3, 30)").await, "25P02");
    assert_eq!(fails(&c, "SELECT 1").await, "25P02");
    c.simple_query("COMMIT").await.unwrap();
    assert_eq!(query(&c, "SELECT count(*) FROM acct").await, one("1"));
    // ROLLBACK ends a failed block too, and the session works again.
    c.batch_execute("BEGIN").await.unwrap();
    assert_eq!(fails(&c, "SELECT * FROM nope").await, "42P01");
    c.simple_query("ROLLBACK").await.unwrap();
    c.batch_execute("BEGIN; INSERT INTO acct VALUES (4, 40); COMMIT").await.unwrap();
    assert_eq!(query(&c, "SELECT sum(bal) FROM acct").await, one("50"));
    // Savepoints: ROLLBACK TO undoes the writes after it and mends a failed block.
    assert_eq!(fails(&c, "SAVEPOINT outside").await, "25P01");
    c.batch_execute("BEGIN; INSERT INTO acct VALUES (5, 1); SAVEPOINT s; INSERT INTO acct VALUES (6, 1000)").await.unwrap();
    assert_eq!(fails(&c, "SELECT 1 / 0").await, "22012");
    assert_eq!(fails(&c, "ROLLBACK TO SAVEPOINT nope").await, "3B001");
    c.batch_execute("ROLLBACK TO SAVEPOINT s; INSERT INTO acct VALUES (7, 2); RELEASE SAVEPOINT s; COMMIT").await.unwrap();
    assert_eq!(query(&c, "SELECT sum(bal) FROM acct").await, one("53"));
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_writes_to_the_same_rows_fail_at_commit() {
    let server = EddyServer::start();
    let a = connect(&server).await;
    let b = connect(&server).await;
    a.batch_execute("CREATE TABLE k (id int, v int); INSERT INTO k VALUES (1, 1), (2, 2); CREATE MATERIALIZED VIEW kc AS SELECT count(*) AS n, sum(v) AS s FROM k").await.unwrap();

    // Both delete row 1: the second to commit fails, and nothing is
    // retracted twice.
    a.batch_execute("BEGIN; DELETE FROM k WHERE id = 1").await.unwrap();
    b.batch_execute("DELETE FROM k WHERE id = 1").await.unwrap();
    assert_eq!(fails(&a, "COMMIT").await, "40001");
    assert_eq!(query(&a, "SELECT id, v FROM k").await, vec![vec![Some("2".into()), Some("2".into())]]);
    assert_eq!(query(&a, "SELECT n, s FROM kc").await, vec![vec![Some("1".into()), Some("2".into())]]);

    // The same for an UPDATE against a concurrent UPDATE.
    a.batch_execute("BEGIN; UPDATE k SET v = v + 10 WHERE id = 2").await.unwrap();
    b.batch_execute("UPDATE k SET v = v + 100 WHERE id = 2").await.unwrap();
    assert_eq!(fails(&a, "COMMIT").await, "40001");
    assert_eq!(query(&a, "SELECT n, s FROM kc").await, vec![vec![Some("1".into()), Some("102".into())]]);

    // Without a concurrent write the transaction commits, and inserts never
    // conflict.
    a.batch_execute("BEGIN; UPDATE k SET v = 0 WHERE id = 2").await.unwrap();
    b.batch_execute("CREATE TABLE other (x int); INSERT INTO other VALUES (1)").await.unwrap();
    a.batch_execute("INSERT INTO k VALUES (3, 3)").await.unwrap();
    ok(&a, "COMMIT").await;
    assert_eq!(query(&a, "SELECT n, s FROM kc").await, vec![vec![Some("2".into()), Some("3".into())]]);

    // A table the block wrote to is dropped and created again by another
    // session: COMMIT fails rather than report success for rows that went
    // nowhere, and the new table is untouched.
    a.batch_execute("BEGIN; INSERT INTO k VALUES (4, 4)").await.unwrap();
    b.batch_execute("DROP TABLE k CASCADE; CREATE TABLE k (id int, v int)").await.unwrap();
    assert_eq!(fails(&a, "COMMIT").await, "40001");
    assert_eq!(query(&a, "SELECT count(*) FROM k").await, one("0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn statements_clients_send_around_sessions() {
    let server = EddyServer::start();
    let c = connect(&server).await;
    c.batch_execute("CREATE TABLE t (x int); CREATE MATERIALIZED VIEW m AS SELECT count(*) FROM t").await.unwrap();
    ok(&c, "DEALLOCATE ALL").await;
    // DEALLOCATE forgets a prepared statement of the session; an unknown
    // name is 26000, as in PostgreSQL.
    let st = c.prepare("SELECT count(*) FROM t").await.unwrap();
    assert_eq!(c.query(&st, &[]).await.unwrap().len(), 1);
    // The driver names it (`s3`); its Debug form is where the name shows.
    let debug = format!("{:?}", st);
    let name = debug.split('"').nth(1).expect("statement name").to_string();
    ok(&c, &format!("DEALLOCATE {}", name)).await;
    assert_eq!(c.query(&st, &[]).await.expect_err("deallocated").code().map(|c| c.code().to_string()).as_deref(), Some("26000"));
    assert_eq!(fails(&c, &format!("DEALLOCATE PREPARE {}", name)).await, "26000");
    let err = c.simple_query("DEALLOCATE nope").await.expect_err("unknown statement");
    assert_eq!((err.code().map(|c| c.code()), err.as_db_error().map(|e| e.message())), (Some("26000"), Some("prepared statement \"nope\" does not exist")));
    ok(&c, "DEALLOCATE ALL").await;
    ok(&c, "DISCARD ALL").await;
    ok(&c, "SET TIME ZONE 'UTC'").await;
    assert_eq!(fails(&c, "SET TIME ZONE 'America/New_York'").await, "0A000");
    assert_eq!(fails(&c, "SET timezone = 'Europe/Paris'").await, "0A000");
    ok(&c, "REFRESH MATERIALIZED VIEW m").await;
    assert_eq!(fails(&c, "REFRESH MATERIALIZED VIEW t").await, "42809");
    assert_eq!(fails(&c, "REFRESH MATERIALIZED VIEW nope").await, "42P01");
    // statement_timeout cancels a statement that waits too long (57014).
    c.batch_execute("INSERT INTO t SELECT i FROM generate_series(1, 1000) AS s(i)").await.unwrap();
    ok(&c, "SET statement_timeout = '10ms'").await;
    assert_eq!(fails(&c, "SELECT count(*) FROM t a, t b WHERE (a.x * b.x) % 7 = 3").await, "57014");
    ok(&c, "SET statement_timeout = 0").await;
    assert_eq!(query(&c, "SELECT count(*) FROM t").await, one("1000"));
    assert_eq!(fails(&c, "SET statement_timeout = '5 parsecs'").await, "22023");
}

#[tokio::test(flavor = "multi_thread")]
async fn statements_sent_together_commit_together() {
    let server = EddyServer::start();
    let c = connect(&server).await;
    c.batch_execute("CREATE TABLE ms (a int); CREATE MATERIALIZED VIEW ms_n AS SELECT count(*) AS n, sum(a) AS s FROM ms").await.unwrap();
    // One message, one implicit transaction: an error undoes the statements before it.
    assert_eq!(fails(&c, "INSERT INTO ms VALUES (1); INSERT INTO ms VALUES (1 / 0); INSERT INTO ms VALUES (3)").await, "22012");
    assert_eq!(query(&c, "SELECT count(*) FROM ms").await, one("0"));
    c.batch_execute("INSERT INTO ms VALUES (1); INSERT INTO ms VALUES (2)").await.unwrap();
    assert_eq!(fails(&c, "UPDATE ms SET a = 10; SELECT 1 / 0").await, "22012");
    assert_eq!(query(&c, "SELECT n, s FROM ms_n").await, vec![vec![Some("2".into()), Some("3".into())]]);
    // The statements read what the ones before them wrote.
    assert_eq!(query(&c, "INSERT INTO ms VALUES (5); SELECT count(*) FROM ms").await, one("3"));
    // With BEGIN among them, each runs as written.
    c.batch_execute("BEGIN; INSERT INTO ms VALUES (7); COMMIT").await.unwrap();
    assert_eq!(query(&c, "SELECT n, s FROM ms_n").await, vec![vec![Some("4".into()), Some("15".into())]]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_request_ends_the_running_statement() {
    let server = EddyServer::start();
    let c = connect(&server).await;
    let other = connect(&server).await;
    c.batch_execute("CREATE TABLE big (x int); INSERT INTO big SELECT i FROM generate_series(1, 3000) AS s(i)").await.unwrap();
    let token = c.cancel_token();
    let long = tokio::spawn(async move { c.simple_query("SELECT count(*) FROM big a, big b WHERE (a.x * b.x) % 7 = 3").await.map(|_| ()) });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    token.cancel_query(NoTls).await.unwrap();
    let err = long.await.unwrap().expect_err("the cancelled query");
    assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{:?}", err);
    // The server goes on (once the engine has dropped the query's work).
    assert_eq!(query(&other, "SELECT count(*) FROM big").await, one("3000"));
}
