"""Load SQL from ``sql/`` and bind named parameters for each driver.

SQL files use ``:name`` placeholders. :func:`bind` turns them into the driver's positional style
(``?`` for DuckDB, ``%s`` for psycopg and redshift-connector) with the values in order, so a value
is never formatted into SQL text. Identifiers can't be bound; :func:`render` substitutes
``{{ name }}`` slots only with values from an explicit allow-list.
"""

from __future__ import annotations

import logging
import re
import time
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from .config import SQL_DIR

log = logging.getLogger(__name__)

_PARAM = re.compile(r"(?<![:\w]):([a-zA-Z_][a-zA-Z0-9_]*)")
_SLOT = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
_LITERAL_OR_COMMENT = re.compile(r"('(?:[^']|'')*'|--[^\n]*)")


@lru_cache(maxsize=None)
def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def load_sql(name: str, dialect: str | None = None) -> str:
    """Text of ``sql/<name>.sql``; a dialect override ``sql/<name>.<dialect>.sql`` wins if present."""
    if dialect:
        override = SQL_DIR / f"{name}.{dialect}.sql"
        if override.exists():
            return _read(str(override))
    path = SQL_DIR / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no SQL file {path.relative_to(SQL_DIR.parent)}")
    return _read(str(path))


# A slot's allow-list: the fixed values it may take, or a test that a value is well formed (for
# generated text such as a WHERE clause of fixed templates, whose combinations are not listable).
AllowList = Union[Iterable[str], Callable[[str], bool]]


def render(sql: str, identifiers: Mapping[str, str], allowed: Mapping[str, AllowList]) -> str:
    """Fill ``{{ slot }}`` identifiers outside comments and literals; each value must be in (or pass)
    ``allowed[slot]``."""

    def permitted(slot: str, value: str) -> bool:
        rule = allowed.get(slot, ())
        return bool(rule(value)) if callable(rule) else value in set(rule)

    def fill(match: re.Match[str]) -> str:
        slot = match.group(1)
        value = identifiers.get(slot)
        if value is None or not permitted(slot, value):
            raise ValueError(f"identifier {slot}={value!r} is not in the allow-list")
        return value

    # Slots are filled in code only: a slot named in a comment stays as written (a multi-line value
    # put into a `--` comment would turn its later lines into SQL).
    chunks = _LITERAL_OR_COMMENT.split(sql)
    return "".join(chunk if i % 2 else _SLOT.sub(fill, chunk) for i, chunk in enumerate(chunks))


def bind(sql: str, params: Mapping[str, Any] | None, style: str) -> tuple[str, list[Any]]:
    """Replace ``:name`` with ``?`` (style ``qmark``) or ``%s`` (style ``format``); return values in order.

    String literals and ``--`` comments are left alone, and ``::type`` casts are not parameters.
    """
    params = params or {}
    marker = "?" if style == "qmark" else "%s"
    values: list[Any] = []
    out: list[str] = []
    for i, chunk in enumerate(_LITERAL_OR_COMMENT.split(sql)):
        if i % 2 == 1:  # a literal or a comment (psycopg's extra escaping: dbapi.bind_format)
            out.append(chunk)
            continue
        if style == "format":
            chunk = chunk.replace("%", "%%")

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in params:
                raise KeyError(f"SQL parameter :{name} was not supplied")
            values.append(params[name])
            return marker

        out.append(_PARAM.sub(sub, chunk))
    return "".join(out), values


def split_statements(sql: str) -> list[str]:
    """Split a script on ``;`` outside literals and comments; drop empty statements."""
    statements: list[str] = []
    current: list[str] = []
    for i, chunk in enumerate(_LITERAL_OR_COMMENT.split(sql)):
        if i % 2 == 1:
            if not chunk.startswith("--"):
                current.append(chunk)
            continue
        parts = chunk.split(";")
        for j, part in enumerate(parts):
            current.append(part)
            if j < len(parts) - 1:
                statements.append("".join(current))
                current = []
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def run_script(execute: Callable[[str, dict[str, Any]], Any], sql: str, params: Mapping[str, Any] | None = None,
               name: str = "script") -> None:
    """Run each statement of ``sql`` through ``execute`` with only the parameters it names (timed at DEBUG).

    The one place a script's parameters are filtered per statement: every engine runs scripts here.
    """
    for i, statement in enumerate(split_statements(sql)):
        used = {k: v for k, v in (params or {}).items() if f":{k}" in statement}
        start = time.perf_counter()
        execute(statement, used)
        log.debug("%s[%d]: %.2f s", name, i, time.perf_counter() - start)


def expand_list(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """Placeholders for an IN-list: ``expand_list("race", ["A","B"])`` -> (":race_0, :race_1", {...})."""
    keys = {f"{name}_{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in keys), keys
