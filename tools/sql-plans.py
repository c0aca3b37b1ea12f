#!/usr/bin/env python3
"""SQLite's plan of every fixed statement text in server/src that reads, updates or deletes.

Usage: tools/sql-plans.py DATABASE   (a database made by `gridsync serve --demo --database-url
sqlite://DATABASE`). Prints each statement whose plan reads a whole table (`SCAN`), and how many.
Statements built with format! are not seen here; take them from a server log
(`RUST_LOG=sqlx::query=debug`, see tools/sql-times.py).
"""
import glob, re, sqlite3, sys

db = sqlite3.connect(sys.argv[1])
found = 0
for path in sorted(glob.glob("server/src/**/*.rs", recursive=True)):
    src = open(path).read()
    for m in re.finditer(r'query(?:_scalar|_as)?(?:::<[^>]*>)?\(\s*"((?:[^"\\]|\\.)*)"', src, re.S):
        sql = re.sub(r"\s+", " ", m.group(1).replace("\\n", " "))
        if not sql.strip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
            continue
        sql = re.sub(r"\$\d+", "?", sql)
        try:
            plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, [1] * sql.count("?"))]
        except sqlite3.Error:
            continue
        scans = [p for p in plan if p.startswith("SCAN") and "CONSTANT" not in p]
        if scans:
            found += 1
            print(f"{path}:{src[:m.start()].count(chr(10)) + 1}: {sql[:110]}\n    {scans}")
print(f"{found} statements plan a scan")
