"""Randomized differential check of eddy against PostgreSQL (a developer
tool, not part of the test suite): generates queries over two small tables
with NULLs (filters, CASE, COALESCE, joins of every kind, GROUP BY with
aggregates and FILTER, subqueries, DISTINCT [ON], set operations, TopK,
windows, ROLLUP), runs each on both servers and prints every difference;
about one in seven becomes a materialized view in eddy (a plain view in
PostgreSQL) that is compared again after every batch of random changes.

    python3 scripts/fuzz_vs_postgres.py SEED [QUERIES]

EDDY_DSN and PG_DSN name the servers (defaults: an `eddy serve --listen
127.0.0.1:7000` and a PostgreSQL on the socket in /tmp, port 5433). It
drops and creates the tables fa and fb in both. Known differences it
prints: stddev/variance are double precision in eddy (numeric in
PostgreSQL), and psycopg shows UTC as two different tzinfo objects.
"""
import random, sys, os, psycopg, decimal
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
N = int(sys.argv[2]) if len(sys.argv) > 2 else 300
rnd = random.Random(seed)
E = psycopg.connect(os.environ.get("EDDY_DSN", "host=127.0.0.1 port=7000 user=eddy dbname=eddy"), autocommit=True)
P = psycopg.connect(os.environ.get("PG_DSN", "host=/tmp port=5433 user=postgres dbname=postgres"), autocommit=True)
SCHEMA = [
 "DROP TABLE IF EXISTS fa CASCADE", "DROP TABLE IF EXISTS fb CASCADE",
 "CREATE TABLE fa (id int, k int, x int, y numeric(8,2), s text, b boolean, d date)",
 "CREATE TABLE fb (id int, k int, z int, t text)",
]
def lit_row_a(i):
    def n(v): return 'NULL' if rnd.random() < 0.15 else v
    return f"({i}, {n(rnd.randint(0,5))}, {n(rnd.randint(-10,10))}, {n(str(round(rnd.uniform(-50,50),2)))}, {n(repr(rnd.choice(['a','b','c','ab','B',''])))}, {n(rnd.choice(['true','false']))}, {n(repr('2024-01-%02d' % rnd.randint(1,28)))})"
def lit_row_b(i):
    def n(v): return 'NULL' if rnd.random() < 0.15 else v
    return f"({i}, {n(rnd.randint(0,6))}, {n(rnd.randint(-5,5))}, {n(repr(rnd.choice(['a','b','x'])))})"
def both(sql):
    errs = []
    for c in (E, P):
        try: c.execute(sql)
        except Exception as e: errs.append(str(e).split('\n')[0])
    return errs
for s in SCHEMA: both(s)
both("INSERT INTO fa VALUES " + ",".join(lit_row_a(i) for i in range(30)))
both("INSERT INTO fb VALUES " + ",".join(lit_row_b(i) for i in range(20)))

def iexpr(t, depth=0):
    c = rnd.random()
    cols = {'fa': ['x','k','id'], 'fb': ['z','k','id']}[t]
    if depth > 2 or c < 0.35: return f"{t}.{rnd.choice(cols)}"
    if c < 0.45: return str(rnd.randint(-3, 5))
    if c < 0.6: return f"({iexpr(t,depth+1)} {rnd.choice(['+','-','*'])} {iexpr(t,depth+1)})"
    if c < 0.68: return f"coalesce({iexpr(t,depth+1)}, {iexpr(t,depth+1)})"
    if c < 0.76: return f"CASE WHEN {bexpr(t,depth+1)} THEN {iexpr(t,depth+1)} ELSE {iexpr(t,depth+1)} END"
    if c < 0.82: return f"abs({iexpr(t,depth+1)})"
    if c < 0.88: return f"nullif({iexpr(t,depth+1)}, {rnd.randint(0,3)})"
    if c < 0.94: return f"greatest({iexpr(t,depth+1)}, {iexpr(t,depth+1)})"
    return f"length({sexpr(t, depth+1)})"
def sexpr(t, depth=0):
    if t == 'fa':
        c = rnd.random()
        if depth > 2 or c < 0.5: return "fa.s"
        if c < 0.7: return f"upper({sexpr(t,depth+1)})"
        if c < 0.85: return f"({sexpr(t,depth+1)} || 'z')"
        return f"coalesce(fa.s, 'n')"
    return rnd.choice(["fb.t", "upper(fb.t)", "coalesce(fb.t, 'q')"])
def bexpr(t, depth=0):
    c = rnd.random()
    if depth > 2 or c < 0.4: return f"{iexpr(t,depth+1)} {rnd.choice(['=','<','>','<=','<>'])} {iexpr(t,depth+1)}"
    if c < 0.5: return f"({bexpr(t,depth+1)} {rnd.choice(['AND','OR'])} {bexpr(t,depth+1)})"
    if c < 0.55: return f"NOT ({bexpr(t,depth+1)})"
    if c < 0.62: return f"{iexpr(t,depth+1)} IS NULL"
    if c < 0.7: return f"{iexpr(t,depth+1)} IN ({rnd.randint(0,3)}, {rnd.randint(-2,2)}, NULL)" if rnd.random()<0.3 else f"{iexpr(t,depth+1)} IN ({rnd.randint(0,3)}, {rnd.randint(-2,2)})"
    if c < 0.76: return f"{iexpr(t,depth+1)} BETWEEN {rnd.randint(-3,0)} AND {rnd.randint(0,5)}"
    if c < 0.82: return f"{sexpr(t,depth+1)} LIKE '{rnd.choice(['a%','%b','_','%'])}'"
    if c < 0.88 and t == 'fa': return "fa.b"
    if c < 0.94: return f"{iexpr(t,depth+1)} IS DISTINCT FROM {iexpr(t,depth+1)}"
    if NOSUB: return f"{iexpr(t,depth+1)} > 0"
    return f"{iexpr(t,depth+1)} NOT IN (SELECT fb.z FROM fb WHERE fb.k = {rnd.randint(0,6)})" if t=='fa' else f"EXISTS (SELECT 1 FROM fa WHERE fa.k = fb.k)"

NOSUB = False
def query():
    global NOSUB
    kind = rnd.random()
    # Subqueries inside aggregates are planned over one FROM item only.
    NOSUB = False
    if kind < 0.3:
        sel = ", ".join(rnd.choice([iexpr('fa'), sexpr('fa'), bexpr('fa'), 'fa.y', 'fa.d']) + f" AS c{n}" for n in range(rnd.randint(1,3)))
        return f"SELECT {sel} FROM fa WHERE {bexpr('fa')}"
    if kind < 0.55:
        g = iexpr('fa')
        aggs = ", ".join(rnd.choice([f"count(*)", f"sum({iexpr('fa')})", f"min({sexpr('fa')})", f"max({iexpr('fa')})", f"avg(fa.y)", f"count(DISTINCT {iexpr('fa')})", f"bool_or({bexpr('fa')})", f"string_agg(fa.s, ',' ORDER BY fa.s, fa.id)", f"sum(fa.y) FILTER (WHERE {bexpr('fa')})"]) + f" AS a{n}" for n in range(rnd.randint(1,3)))
        having = f" HAVING count(*) > {rnd.randint(0,3)}" if rnd.random() < 0.3 else ""
        return f"SELECT {g} AS g, {aggs} FROM fa WHERE {bexpr('fa')} GROUP BY 1{having}"
    if kind < 0.8:
        j = rnd.choice(['JOIN', 'LEFT JOIN', 'RIGHT JOIN', 'FULL JOIN'])
        on = rnd.choice(["fa.k = fb.k", "fa.k = fb.k AND fa.x > fb.z", "fa.x = fb.z", "fa.k = fb.k AND fb.t = fa.s"])
        sel = f"fa.id AS aid, fb.id AS bid, {iexpr('fa')} AS c1, {iexpr('fb')} AS c2"
        where = f" WHERE {bexpr('fa')}" if rnd.random() < 0.3 else ""
        if rnd.random() < 0.4:
            return f"SELECT fb.k, count(*), sum(fa.x) AS sx, max(fb.z) FROM fa {j} fb ON {on}{where} GROUP BY fb.k"
        return f"SELECT {sel} FROM fa {j} fb ON {on}{where}"
    if kind < 0.87:
        return rnd.choice([
            f"SELECT DISTINCT {iexpr('fa')} AS c1, fa.s FROM fa WHERE {bexpr('fa')}",
            f"SELECT fa.k AS c1 FROM fa WHERE {bexpr('fa')} {rnd.choice(['UNION','UNION ALL','INTERSECT','EXCEPT','EXCEPT ALL','INTERSECT ALL'])} SELECT fb.k FROM fb WHERE {bexpr('fb')}",
            f"SELECT fa.id, fa.x FROM fa WHERE {bexpr('fa')} ORDER BY fa.x DESC NULLS LAST, fa.id LIMIT {rnd.randint(1,5)}",
            f"SELECT DISTINCT ON (fa.k) fa.k, fa.id, fa.x FROM fa ORDER BY fa.k, fa.x DESC, fa.id",
            f"SELECT date_trunc('week', fa.d) AS w, count(*), max(fa.d + {rnd.randint(0,40)}) AS m, min(fa.d - interval '1 day') AS i FROM fa GROUP BY 1",
            f"SELECT fa.k, sum(fa.y) AS sy, avg(fa.x) AS ax, stddev(fa.x) AS sd, count(fa.s) AS cs FROM fa GROUP BY ROLLUP (fa.k)",
            f"SELECT fa.id, fa.y / nullif(fa.x, 0) AS q, round(fa.y, 1) AS r, fa.y::int AS yi, fa.x % 3 AS m, (fa.x::numeric / 7)::numeric(10,3) AS dq FROM fa",
            f"SELECT fa.id, fa.s, {rnd.choice(['lower(fa.s)', 'initcap(fa.s)', 'reverse(fa.s)', 'lpad(fa.s, 4, ' + repr('*') + ')', 'rpad(fa.s, 3)', 'replace(fa.s, ' + repr('a') + ', ' + repr('xy') + ')', 'split_part(fa.s, ' + repr('b') + ', 1)', 'left(fa.s, 1)', 'right(fa.s, -1)', 'strpos(fa.s, ' + repr('b') + ')', 'fa.s ILIKE ' + repr('A%'), 'fa.s < ' + repr('b'), 'concat(fa.s, fa.x, NULL)', 'concat_ws(' + repr('-') + ', fa.s, fa.k)', 'repeat(fa.s, 2)', 'md5(fa.s)', 'ascii(fa.s)', 'translate(fa.s, ' + repr('ab') + ', ' + repr('A') + ')', 'starts_with(fa.s, ' + repr('a') + ')', 'fa.s ~ ' + repr('^a'), 'regexp_replace(fa.s, ' + repr('[ab]') + ', ' + repr('.') + ', ' + repr('g') + ')'])} AS f FROM fa WHERE {bexpr('fa')}",
            f"SELECT fa.id, fa.d, {rnd.choice(['fa.d + fa.k', 'fa.d - date ' + repr('2024-01-15'), 'extract(dow from fa.d)', 'extract(doy from fa.d)', 'date_part(' + repr('day') + ', fa.d)', 'to_char(fa.d, ' + repr('YYYY-MM-DD Dy') + ')', 'fa.d + interval ' + repr('1 month 2 hours'), 'date_trunc(' + repr('month') + ', fa.d)::date', 'age(fa.d, date ' + repr('2023-11-30') + ')', 'fa.d::timestamp + make_interval(hours => fa.k)', 'justify_hours(interval ' + repr('30 hours') + ' * fa.k)', 'fa.d > current_date - 10000'])} AS f FROM fa",
            f"SELECT fa.id, fa.k, fa.x, {rnd.choice(['sum(fa.x)', 'count(*)', 'min(fa.x)', 'max(fa.s)', 'avg(fa.y)', 'first_value(fa.x)', 'last_value(fa.id)'])} OVER (PARTITION BY fa.k ORDER BY fa.x, fa.id {rnd.choice(['ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING', 'ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW', 'ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING', 'ROWS 2 PRECEDING', ''])}) AS w FROM fa",
            f"SELECT fa.id, {rnd.choice(['ntile(3)', 'percent_rank()', 'cume_dist()', 'lead(fa.x, 2, -1)', 'lag(fa.s)', 'nth_value(fa.x, 2)'])} OVER (PARTITION BY fa.k ORDER BY fa.id) AS w FROM fa",
            f"SELECT fa.id, fa.k FROM fa WHERE {rnd.choice(['', 'NOT '])}EXISTS (SELECT 1 FROM fb WHERE fb.k = fa.k AND {bexpr('fb')})",
            f"SELECT a.id, b.id AS bid, a.x - b.x AS dx FROM fa a {rnd.choice(['JOIN', 'LEFT JOIN', 'FULL JOIN'])} fa b ON a.k = b.k AND a.id < b.id AND {rnd.choice(['a.x <= b.x', 'b.s IS NOT NULL', 'true'])}",
            f"SELECT fa.k, count(*) AS n, sum(fa.x) AS sx FROM fa LEFT JOIN fb ON fb.k = fa.k AND fb.z > fa.x WHERE fb.id IS NULL GROUP BY fa.k HAVING sum(fa.x) {rnd.choice(['>', '<', 'IS DISTINCT FROM'])} {rnd.randint(-5, 5)}",
            f"SELECT fa.id, fa.x FROM fa WHERE fa.x > (SELECT avg(b.x) FROM fa b WHERE b.k = fa.k) ORDER BY fa.x DESC, fa.id LIMIT {rnd.randint(1, 6)} OFFSET {rnd.randint(0, 2)}",
            f"SELECT * FROM (SELECT fa.k, fa.id, row_number() OVER (PARTITION BY fa.k ORDER BY fa.y DESC NULLS LAST, fa.id) AS rn FROM fa) r WHERE rn <= {rnd.randint(1, 3)}",
            f"WITH t AS (SELECT fa.k, sum(fa.y) AS total FROM fa GROUP BY fa.k) SELECT t.k, t.total, fb.t FROM t JOIN fb ON fb.k = t.k WHERE t.total {rnd.choice(['>', '<'])} {rnd.randint(-20, 20)}",
        ])
    if kind < 0.9:
        return f"SELECT fa.id, {iexpr('fa')} AS c1, (SELECT max(fb.z) FROM fb WHERE fb.k = fa.k) AS c2 FROM fa WHERE {bexpr('fa')}"
    return f"SELECT fa.id, fa.k, {rnd.choice(['row_number()','rank()','dense_rank()','sum(fa.x)','lag(fa.x)','count(*)'])} OVER (PARTITION BY fa.k ORDER BY fa.x, fa.id) AS w FROM fa"

def norm(v):
    if isinstance(v, decimal.Decimal): return str(v.normalize()) if v == v else 'NaN'
    if isinstance(v, float): return repr(round(v, 6))
    return repr(v)
def run(c, q):
    try:
        cur = c.execute(q); return sorted(tuple(norm(v) for v in r) for r in cur.fetchall())
    except Exception as e:
        return "ERR " + str(e).split('\n')[0]
fails = 0
views = []
for i in range(N):
    q = query()
    e, p = run(E, q), run(P, q)
    if isinstance(p, str) and isinstance(e, str): continue
    if e != p:
        fails += 1
        print(f"DIFF seed={seed} #{i}: {q}\n  eddy: {str(e)[:300]}\n  pg:   {str(p)[:300]}")
    elif not isinstance(p, str) and rnd.random() < 0.15:
        v = f"fv{seed}_{i}"
        try:
            E.execute(f"CREATE MATERIALIZED VIEW {v} AS {q}"); P.execute(f"CREATE VIEW {v} AS {q}"); views.append(v)
        except Exception as ex:
            print(f"VIEWERR {q}: {str(ex).splitlines()[0]}")
    if i % 20 == 19:
        # changes
        ch = rnd.choice([f"INSERT INTO fa VALUES " + ",".join(lit_row_a(100+i*10+j) for j in range(3)),
                         f"DELETE FROM fa WHERE id % 7 = {rnd.randint(0,6)}",
                         f"UPDATE fa SET x = x + 1, s = coalesce(s, 'u') WHERE k = {rnd.randint(0,5)}",
                         f"INSERT INTO fb VALUES " + ",".join(lit_row_b(100+i*10+j) for j in range(2)),
                         f"DELETE FROM fb WHERE k = {rnd.randint(0,6)}"])
        errs = both(ch)
        if errs: print("CHANGE ERR", ch, errs)
        for v in views:
            e, p = run(E, f"SELECT * FROM {v}"), run(P, f"SELECT * FROM {v}")
            if e != p:
                fails += 1; print(f"VIEWDIFF {v} after {ch}\n  eddy: {str(e)[:300]}\n  pg:   {str(p)[:300]}")
                views.remove(v)
print(f"seed {seed}: {N} queries, {fails} diffs, {len(views)} views")
