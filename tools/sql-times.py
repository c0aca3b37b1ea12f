#!/usr/bin/env python3
"""Per statement, the calls and time in a server log written with RUST_LOG=sqlx::query=debug.

Usage: tools/sql-times.py LOG [TOP]. sqlx times a statement on the connection's own thread, from
its start until its last row was handed over: SQLite's work plus the hand-off.
"""
import collections, re, sys

total, calls = collections.defaultdict(float), collections.Counter()
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r'summary="([^"]*)".*elapsed_secs=([0-9.e-]+)', re.sub(r"\x1b\[[0-9;]*m", "", line))
    if m:
        total[m.group(1)] += float(m.group(2))
        calls[m.group(1)] += 1
for sql, t in sorted(total.items(), key=lambda x: -x[1])[: int(sys.argv[2]) if len(sys.argv) > 2 else 20]:
    print(f"{t * 1000:8.1f} ms {calls[sql]:6d} calls {t / calls[sql] * 1e6:6.0f} µs each  {sql}")
print(f"{sum(total.values()) * 1000:.0f} ms in {sum(calls.values())} statements")
