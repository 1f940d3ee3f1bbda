"""Talks to a running eddy server with Python's psycopg 3 (the extended
protocol with server-side parameters, binary and text results) and checks
what comes back. Usage: psycopg_check.py PORT. Exits non-zero on mismatch."""
import datetime
import decimal
import sys

import psycopg

port = int(sys.argv[1])
with psycopg.connect(f"host=127.0.0.1 port={port} user=eddy dbname=eddy", autocommit=True) as conn:
    cur = conn.cursor()
    cur.execute("CREATE TABLE py_items (id int, name text, price numeric(10,2), added date, ok boolean)")
    cur.executemany(
        "INSERT INTO py_items VALUES (%s, %s, %s, %s, %s)",
        [(1, "apple", decimal.Decimal("1.25"), datetime.date(2024, 1, 2), True),
         (2, "pear", decimal.Decimal("2.50"), datetime.date(2024, 3, 4), False),
         (3, None, None, None, None)],
    )
    cur.execute("CREATE MATERIALIZED VIEW py_totals AS SELECT ok, count(*) AS n, sum(price) AS total FROM py_items GROUP BY ok")
    cur.execute("SELECT id, name, price, added, ok FROM py_items WHERE id <= %s ORDER BY id", (2,))
    rows = cur.fetchall()
    assert rows == [(1, "apple", decimal.Decimal("1.25"), datetime.date(2024, 1, 2), True),
                    (2, "pear", decimal.Decimal("2.50"), datetime.date(2024, 3, 4), False)], rows
    # Binary results.
    bcur = conn.cursor(binary=True)
    bcur.execute("SELECT n, total FROM py_totals WHERE ok = %s", (True,))
    assert bcur.fetchall() == [(1, decimal.Decimal("1.25"))]
    cur.execute("UPDATE py_items SET price = price * 2 WHERE id = %s", (1,))
    cur.execute("SELECT total FROM py_totals WHERE ok")
    assert cur.fetchone() == (decimal.Decimal("2.50"),)
    try:
        cur.execute("SELECT * FROM py_missing")
        raise SystemExit("expected an error")
    except psycopg.errors.UndefinedTable as e:
        assert e.sqlstate == "42P01"
print("psycopg ok")
