"""SQL text helpers: literals, seeded picks and numbers, local timestamps with their offsets.

Randomness is the macro `u(key, salt)` that `generate` defines on its connection: a uniform [0, 1) from
hash(key, salt, seed), so the same arguments give the same rows.
"""

from __future__ import annotations

import datetime as dt
import random


def sql_list(values) -> str:
    return "[" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]"


def pick(values, key: str, salt: int) -> str:
    """SQL: one of `values`, chosen by u(key, salt)."""
    return f"{sql_list(values)}[1 + floor(u({key}, {salt}) * {len(values)})::int]"


def per_market(profiles, values, key: str, salt: int, m: str = "m") -> str:
    """SQL: one of values(profile) for the row's marketplace `m`, chosen by u(key, salt)."""
    whens = " ".join(f"when {i} then {pick(values(p), key, salt)}" for i, p in enumerate(profiles))
    return f"(case {m} {whens} end)"


def digits(n_expr: str, k: int) -> str:
    return f"lpad(({n_expr})::varchar, {k}, '0')"


def perm(p_expr: str, k: int, rng: random.Random) -> str:
    """SQL: a k-digit number that is a bijection of p (p < 10**k): unique and scattered."""
    mod = 10**k
    a = rng.randrange(mod // 7, mod // 3) | 1
    while a % 5 == 0:
        a += 2
    b = rng.randrange(mod)
    return f"((({p_expr})::hugeint * {a} + {b}) % {mod})::bigint"


def ts(day_expr: str, sec_expr: str) -> str:
    return f"(({day_expr})::timestamp + to_seconds(({sec_expr})::bigint))"


def offset_text(off_expr: str) -> str:
    """SQL: an offset in minutes as ISO 8601 text, e.g. +01:00."""
    sign = f"case when {off_expr} < 0 then '-' else '+' end"
    hh = f"lpad((abs({off_expr}) // 60)::varchar, 2, '0')"
    mm = f"lpad((abs({off_expr}) % 60)::varchar, 2, '0')"
    return f"({sign} || {hh} || ':' || {mm})"


def iso_local(ts_expr: str, off_text: str) -> str:
    """SQL: local timestamp as ISO 8601 with its offset (a text column), e.g. 2026-03-01T10:15:32+01:00."""
    return f"strftime({ts_expr}, '%Y-%m-%dT%H:%M:%S') || {off_text}"


def _literal(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, dt.date):
        return f"date '{v.isoformat()}'"
    if isinstance(v, (list, tuple)):
        return sql_list(v)
    return "'" + str(v).replace("'", "''") + "'"


def insert(con, table: str, rows) -> None:
    """Insert Python rows in one statement (executemany is slow for hundreds of small rows)."""
    rows = list(rows)
    if rows:
        con.execute(
            f"insert into {table} values " + ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
        )
