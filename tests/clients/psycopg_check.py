"""Talks to a running eddy server with Python's psycopg 3 (the extended
protocol with server-side parameters, binary and text results) and checks
what comes back. Usage: psycopg_check.py PORT. Exits non-zero on mismatch."""
import datetime
import decimal
import sys

import psycopg
import uuid

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
    # Parameter types the client declares are kept: a Decimal or a float is
    # not cut to the integer its context suggests.
    cur.execute("SELECT id FROM py_items WHERE id = %s", (decimal.Decimal("2.7"),))
    assert cur.fetchall() == []
    cur.execute("SELECT count(*) FROM py_items WHERE id < %s", (decimal.Decimal("2.5"),))
    assert cur.fetchone() == (2,)
    cur.execute("SELECT %s + 1", (decimal.Decimal("1.5"),))
    assert cur.fetchone() == (decimal.Decimal("2.5"),)
    cur.execute("SELECT %s + 1", (1.5,))
    assert cur.fetchone() == (2.5,)
    # A uuid parameter (sent in binary) is stored as its text.
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    cur.execute("CREATE TABLE py_u (u text)")
    bcur.execute("INSERT INTO py_u VALUES (%s)", (u,))
    cur.execute("SELECT u, length(u) FROM py_u")
    assert cur.fetchall() == [(str(u), 36)]
    # A list parameter is an array: = ANY finds its elements, in text and
    # in binary, and array columns come back as lists (None for NULL).
    for c in (cur, bcur):
        c.execute("SELECT id FROM py_items WHERE id = ANY(%s) ORDER BY id", ([1, 3],))
        assert c.fetchall() == [(1,), (3,)]
    bcur.execute("SELECT array_agg(id ORDER BY id), ARRAY['a', NULL] FROM py_items WHERE id <= %s", (2,))
    assert bcur.fetchone() == ([1, 2], ["a", None])

# A COMMIT that fails with 40001 ends the transaction: the driver starts
# the next one with BEGIN, so its work is not committed statement by
# statement, and its ROLLBACK undoes it.
dsn = f"host=127.0.0.1 port={port} user=eddy dbname=eddy"
with psycopg.connect(dsn) as a, psycopg.connect(dsn, autocommit=True) as b:
    b.execute("CREATE TABLE py_tx (id int, v int)")
    b.execute("INSERT INTO py_tx VALUES (1, 0)")
    a.execute("UPDATE py_tx SET v = v + 1 WHERE id = 1")
    b.execute("UPDATE py_tx SET v = v + 100 WHERE id = 1")
    try:
        a.commit()
        raise SystemExit("expected a serialization failure")
    except psycopg.errors.SerializationFailure:
        pass
    assert a.info.transaction_status == psycopg.pq.TransactionStatus.IDLE, a.info.transaction_status
    a.execute("INSERT INTO py_tx VALUES (2, 2)")
    assert b.execute("SELECT count(*) FROM py_tx WHERE id = 2").fetchone() == (0,)
    a.rollback()
    assert b.execute("SELECT id, v FROM py_tx").fetchall() == [(1, 100)]
    # Statements psycopg prepared on its own are released on rollback
    # (DEALLOCATE ALL).
    for _ in range(7):
        a.execute("SELECT v FROM py_tx WHERE id = %s", (1,))
    a.rollback()

# Nested transaction blocks are savepoints: an error inside the inner one
# undoes only its own writes.
with psycopg.connect(dsn, autocommit=True) as c:
    c.execute("CREATE TABLE py_sp (x int)")
    with c.transaction():
        c.execute("INSERT INTO py_sp VALUES (1)")
        try:
            with c.transaction():
                c.execute("INSERT INTO py_sp VALUES (2)")
                c.execute("SELECT 1 / 0")
        except psycopg.errors.DivisionByZero:
            pass
        c.execute("INSERT INTO py_sp VALUES (3)")
    assert c.execute("SELECT x FROM py_sp ORDER BY x").fetchall() == [(1,), (3,)]

# Result types decode as PostgreSQL's would: avg of integers is a Decimal,
# a sum of bigint too, an integer literal an int; a CASE or UNION of an
# integer and a numeric is numeric, in text and in binary.
with psycopg.connect(dsn, autocommit=True) as c:
    c.execute("CREATE TABLE py_types (i int, b bigint, n numeric)")
    c.execute("INSERT INTO py_types VALUES (1, 9223372036854775807, 2.75), (2, 1, -1)")
    for binary in (False, True):
        cur = c.cursor(binary=binary)
        cur.execute("SELECT avg(i), sum(b), sum(i), 1 FROM py_types")
        assert cur.fetchone() == (decimal.Decimal("1.5000000000000000"), 9223372036854775808, 3, 1)
        assert [d.type_code for d in cur.description] == [1700, 1700, 20, 23], cur.description
        cur.execute("SELECT CASE WHEN i > 1 THEN i ELSE n END FROM py_types ORDER BY i")
        assert cur.fetchall() == [(decimal.Decimal("2.75"),), (decimal.Decimal("2"),)]
        cur.execute("SELECT i FROM py_types UNION ALL SELECT n FROM py_types ORDER BY 1")
        assert cur.fetchall() == [(decimal.Decimal("-1"),), (1,), (2,), (decimal.Decimal("2.75"),)]

# A prepared statement whose view was replaced by one with other columns
# fails as in PostgreSQL, rather than send rows the client decodes by the
# old types.
with psycopg.connect(dsn, autocommit=True) as c, psycopg.connect(dsn, autocommit=True) as d:
    c.execute("CREATE TABLE py_st (a int, b text)")
    c.execute("INSERT INTO py_st VALUES (1, 'x')")
    c.execute("CREATE MATERIALIZED VIEW py_st_v AS SELECT a, b FROM py_st")
    for _ in range(2):
        assert c.execute("SELECT * FROM py_st_v WHERE a = %s", (1,), prepare=True).fetchall() == [(1, "x")]
    d.execute("DROP MATERIALIZED VIEW py_st_v")
    d.execute("CREATE MATERIALIZED VIEW py_st_v AS SELECT b AS a, a AS b FROM py_st")
    try:
        c.execute("SELECT * FROM py_st_v WHERE a = %s", (1,), prepare=True)
        raise SystemExit("expected cached plan must not change result type")
    except psycopg.errors.FeatureNotSupported as e:
        assert "cached plan must not change result type" in str(e), e

# COPY ... TO STDOUT exports a view or a query (psql's \copy runs the same),
# in text and CSV; COPY FROM is refused with a hint.
with psycopg.connect(dsn, autocommit=True) as c:
    c.execute("CREATE TABLE py_copy (id int, note text, amt numeric)")
    c.execute("INSERT INTO py_copy VALUES (1, 'a,b \"q\"', 1.50), (2, E'tab\\there', NULL), (3, '', 3)")
    c.execute("CREATE MATERIALIZED VIEW py_copy_v AS SELECT count(*) AS n, sum(amt) AS s FROM py_copy")
    with c.cursor().copy("COPY (SELECT id, note, amt FROM py_copy ORDER BY id) TO STDOUT") as cp:
        assert list(cp.rows()) == [("1", 'a,b "q"', "1.50"), ("2", "tab\there", None), ("3", "", "3")]
    out = bytearray()
    with c.cursor().copy("COPY py_copy_v TO STDOUT WITH (FORMAT csv, HEADER)") as cp:
        for block in cp:
            out += block
    assert out.decode() == "n,s\n3,4.50\n", out
    # COPY FROM STDIN loads rows (text format, as psycopg writes them), and
    # the view follows; a row of the wrong width loads nothing.
    with c.cursor().copy("COPY py_copy (id, note, amt) FROM STDIN") as cp:
        cp.write_row((4, "tab\there", decimal.Decimal("2.25")))
        cp.write_row((5, None, None))
    assert c.execute("SELECT note FROM py_copy WHERE id = 4").fetchone() == ("tab\there",)
    assert c.execute("SELECT n, s FROM py_copy_v").fetchone() == (5, decimal.Decimal("6.75"))
    try:
        with c.cursor().copy("COPY py_copy (id, note) FROM STDIN") as cp:
            cp.write_row((6, "a"))
            cp.write(b"7\tb\textra\n")
        raise SystemExit("expected a COPY format error")
    except psycopg.errors.BadCopyFileFormat:
        pass
    assert c.execute("SELECT n FROM py_copy_v").fetchone() == (5,)

# INSERT ... RETURNING with parameters (extended protocol, as ORMs send it)
# gives the rows in insertion order with the INSERT's command tag; an
# upsert through ON CONFLICT returns the updated row; a taken key is
# UniqueViolation with PostgreSQL's detail; COPY of a duplicate key loads
# nothing.
with psycopg.connect(dsn, autocommit=True) as c:
    c.execute("CREATE TABLE py_acct (id int PRIMARY KEY, owner text, bal numeric(10,2) DEFAULT 0)")
    cur = c.execute("INSERT INTO py_acct (id, owner) VALUES (%s, %s), (%s, %s), (%s, %s) RETURNING id, owner, bal", (30, "c", 10, "a", 20, "b"))
    assert cur.fetchall() == [(30, "c", decimal.Decimal("0.00")), (10, "a", decimal.Decimal("0.00")), (20, "b", decimal.Decimal("0.00"))]
    assert cur.statusmessage == "INSERT 0 3", cur.statusmessage
    cur = c.execute("INSERT INTO py_acct VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE SET bal = py_acct.bal + excluded.bal RETURNING bal", (10, "a", decimal.Decimal("5")))
    assert cur.fetchall() == [(decimal.Decimal("5.00"),)] and cur.statusmessage == "INSERT 0 1"
    cur = c.execute("UPDATE py_acct SET bal = bal * 2 WHERE id = %s RETURNING owner, bal", (10,))
    assert cur.fetchall() == [("a", decimal.Decimal("10.00"))] and cur.statusmessage == "UPDATE 1"
    try:
        c.execute("INSERT INTO py_acct VALUES (%s, 'x', 1)", (20,))
        raise SystemExit("expected a unique violation")
    except psycopg.errors.UniqueViolation as e:
        assert e.diag.message_detail == "Key (id)=(20) already exists.", e.diag.message_detail
    try:
        with c.cursor().copy("COPY py_acct FROM STDIN") as cp:
            cp.write_row((40, "d", 1))
            cp.write_row((10, "dup", 1))
        raise SystemExit("expected a unique violation from COPY")
    except psycopg.errors.UniqueViolation:
        pass
    assert c.execute("SELECT count(*) FROM py_acct").fetchone() == (3,)
print("psycopg ok")
