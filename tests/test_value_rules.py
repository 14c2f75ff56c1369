"""The byte-width clip of sql/transform/standardize.sql, as properties over arbitrary Unicode.

A text value longer than its warehouse column is clipped to the column's width in bytes (Redshift
counts bytes). The rule: the stored value is a prefix of the input of whole characters, its UTF-8
length is at most the width, it is the longest such prefix, and it equals the input when the input
fits. Checked with Hypothesis (fixed seed, bounded examples: seconds in CI) on the macro the
transform runs (DuckDB, the processing engine for every warehouse) and on PostgreSQL, where the
clipped value must go into a ``varchar(width)`` column and come back unchanged.
"""

from __future__ import annotations

from typing import Iterator

import duckdb
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from pipeline.extract.base import src_schema
from pipeline.transform import run_sql

pytest_plugins = ["tests.pg_fixtures"]

# Multibyte characters weighted in (Latin-1, Hebrew, CJK, emoji), so most examples cut inside one.
MIXED = st.sampled_from(["a", "é", "ש", "中", "😀", "\u0301", " "])
# Any code point but surrogates (not valid text in UTF-8; the API path replaces them, test_bad_bytes).
ANY = st.characters(blacklist_categories=("Cs",))
TEXT = st.one_of(st.text(ANY, max_size=80), st.text(MIXED, max_size=80))
PROPERTY = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def transform_con() -> Iterator[duckdb.DuckDBPyConnection]:
    """A work connection with standardize.sql's macros defined, exactly as the transform runs them."""
    con = duckdb.connect()
    con.register("src_rows", src_schema().empty_table())
    run_sql(con, "transform/standardize")
    yield con
    con.close()


def clip(con: duckdb.DuckDBPyConnection, value: str, width: int) -> tuple[str, int]:
    return con.execute("select clip(?, ?), too_long(?, ?)", [value, width, value, width]).fetchall()[0]


def assert_clip_rule(value: str, width: int, clipped: str) -> None:
    encoded = clipped.encode("utf-8")
    assert value.startswith(clipped)
    assert len(encoded) <= width
    if len(value.encode("utf-8")) <= width:
        assert clipped == value
    else:  # the longest prefix of whole characters: one more character would not fit
        assert len(clipped) < len(value) and len(value[: len(clipped) + 1].encode("utf-8")) > width


@seed(20)
@PROPERTY
@given(value=TEXT, width=st.integers(0, 100))
def test_a_clipped_value_is_the_longest_whole_character_prefix_within_the_width(transform_con, value, width) -> None:
    clipped, counted = clip(transform_con, value, width)
    assert_clip_rule(value, width, clipped)
    assert counted == (1 if len(value.encode("utf-8")) > width else 0)  # every clip is counted


@pytest.mark.parametrize(("value", "width", "expected"), [
    ("é" * 600, 1024, "é" * 512),  # the case: was ''
    ("é" * 600, 511, "é" * 255),
    ("שלום עולם", 7, "שלו"),
    ("😀😀😀", 11, "😀😀"),
    ("aé", 2, "a"),
    ("plain", 5, "plain"),
])
def test_long_multibyte_values_keep_every_character_that_fits(transform_con, value, width, expected) -> None:
    assert clip(transform_con, value, width)[0] == expected


@pytest.fixture(scope="module")
def pg_widths(pg_admin) -> Iterator[object]:  # noqa: ANN001
    """A PostgreSQL table with a varchar(w) column for each width w = 1..40 (a too-long insert fails)."""
    from tests.pg_fixtures import drop_schema, new_schema

    schema = new_schema("clip")
    pg_admin.execute(f'create schema "{schema}"')
    columns = ", ".join(f"w{w} varchar({w})" for w in range(1, 41))
    pg_admin.execute(f'create table "{schema}".clipped (id serial primary key, {columns})')
    yield pg_admin, schema
    drop_schema(pg_admin, schema)


@seed(20)
@PROPERTY
# NOTE: PostgreSQL text cannot hold U+0000 at all (whatever the width); that is a bad-bytes rule, not a clip rule.
@given(value=st.one_of(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60),
                       st.text(MIXED, max_size=60)),
       width=st.integers(1, 40))
def test_a_clipped_value_is_stored_unchanged_by_postgresql(transform_con, pg_widths, value, width) -> None:
    conn, schema = pg_widths
    clipped, _ = clip(transform_con, value, width)
    row = conn.execute(f'insert into "{schema}".clipped (w{width}) values (%s) returning w{width}', [clipped]).fetchone()
    assert row[0] == clipped
    assert_clip_rule(value, width, row[0])
