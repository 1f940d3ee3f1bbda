//! Real client libraries against a real eddy server: tokio-postgres (the
//! extended protocol with typed parameters and binary results) and Python's
//! psycopg 3 (tests/clients/psycopg_check.py).

mod server;

use server::EddyServer;
use tokio_postgres::NoTls;

#[tokio::test(flavor = "multi_thread")]
async fn tokio_postgres_prepared_statements() {
    let server = EddyServer::start();
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.expect("connect");
    tokio::spawn(conn);
    client.batch_execute("CREATE TABLE kv (k int, v text, n bigint, f double precision)").await.unwrap();
    let insert = client.prepare("INSERT INTO kv VALUES ($1, $2, $3, $4)").await.unwrap();
    for i in 0..20i32 {
        client.execute(&insert, &[&i, &format!("v{}", i % 3), &(i as i64 * 1000), &(i as f64 / 4.0)]).await.unwrap();
    }
    client.batch_execute("CREATE MATERIALIZED VIEW kv_counts AS SELECT v, count(*) AS c, sum(n) AS s FROM kv GROUP BY v").await.unwrap();
    let rows = client.query("SELECT v, c, s FROM kv_counts WHERE c > $1 ORDER BY v", &[&6i64]).await.unwrap();
    let got: Vec<(String, i64)> = rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))).collect();
    assert_eq!(got, vec![("v0".to_string(), 7), ("v1".to_string(), 7)]);
    let row = client.query_one("SELECT f FROM kv WHERE k = $1", &[&5i32]).await.unwrap();
    assert_eq!(row.get::<_, f64>(0), 1.25);
    let err = client.query("SELECT nope FROM kv", &[]).await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42703"), "{:?}", err);
    // Parameters in a table function's arguments and beside it: a prepared
    // statement exploding a JSON array per row.
    client.batch_execute("CREATE TABLE ev (id int, items jsonb)").await.unwrap();
    client.batch_execute(r#"INSERT INTO ev VALUES (1, '[{"sku": "a"}, {"sku": "b"}]'), (2, '[{"sku": "c"}]')"#).await.unwrap();
    let rows = client.query("SELECT l.n, l.item ->> 'sku' FROM ev, jsonb_array_elements(ev.items) WITH ORDINALITY AS l(item, n) WHERE ev.id = $1 ORDER BY l.n", &[&1i32]).await.unwrap();
    let got: Vec<(i64, String)> = rows.iter().map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1))).collect();
    assert_eq!(got, vec![(1, "a".to_string()), (2, "b".to_string())]);
    let rows = client.query("SELECT count(*) FROM ev, generate_series(1, $1) g WHERE g <= ev.id", &[&5i32]).await.unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 3);
    // A parameter under a cast takes the cast's type, as in PostgreSQL:
    // the client binds an i32, a date and a jsonb text by the described types.
    let stmt = client.prepare("SELECT $1::int + 1, CAST($2 AS date) + 1, $3::jsonb ->> 'a', $4::text || 'x'").await.unwrap();
    let types: Vec<String> = stmt.params().iter().map(|t| t.name().to_string()).collect();
    assert_eq!(types, vec!["int4", "date", "jsonb", "text"]);
    let day = chrono::NaiveDate::from_ymd_opt(2024, 2, 28).unwrap();
    let doc = serde_json::json!({"a": "b"});
    let row = client.query_one(&stmt, &[&41i32, &day, &doc, &"y"]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    assert_eq!(row.get::<_, chrono::NaiveDate>(1), chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
    assert_eq!(row.get::<_, String>(2), "b");
    assert_eq!(row.get::<_, String>(3), "yx");
    // Arrays both ways in binary: parameters of array columns, and results
    // of array columns, of ARRAY[...] and of array_agg.
    client.batch_execute("CREATE TABLE arr (id int, tags text[], nums int[])").await.unwrap();
    let insert = client.prepare("INSERT INTO arr VALUES ($1, $2, $3)").await.unwrap();
    client.execute(&insert, &[&1i32, &vec![Some("a b".to_string()), None], &vec![1i32, 2]]).await.unwrap();
    client.execute(&insert, &[&2i32, &Vec::<Option<String>>::new(), &vec![3i32]]).await.unwrap();
    let rows = client.query("SELECT tags, nums, ARRAY[id, 7] FROM arr ORDER BY id", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, Vec<Option<String>>>(0), vec![Some("a b".to_string()), None]);
    assert_eq!(rows[0].get::<_, Vec<i32>>(1), vec![1, 2]);
    assert_eq!(rows[1].get::<_, Vec<Option<String>>>(0), Vec::<Option<String>>::new());
    assert_eq!(rows[1].get::<_, Vec<i32>>(2), vec![2, 7]);
    let row = client.query_one("SELECT array_agg(id ORDER BY id DESC) FROM arr WHERE id = ANY($1)", &[&vec![1i32, 2]]).await.unwrap();
    assert_eq!(row.get::<_, Vec<i32>>(0), vec![2, 1]);
}

#[test]
fn psycopg() {
    let server = EddyServer::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/psycopg_check.py");
    let probe = std::process::Command::new("python3").args(["-c", "import psycopg"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        _ => panic!("Python's psycopg is missing: install it with `pip install \"psycopg[binary]\"` (scripts/test does)"),
    }
    let out = std::process::Command::new("python3").arg(script).arg(server.port.to_string()).output().expect("run python3");
    assert!(out.status.success(), "psycopg check failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
