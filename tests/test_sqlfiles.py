"""SQL templates: slots are filled only from allow-lists, and only in code (never in comments)."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.sqlfiles import render, split_statements

FRAGMENT = "(\n    select 1 as stops\n    union all select 2\n)"


def test_a_slot_value_outside_its_allow_list_is_refused() -> None:
    with pytest.raises(ValueError, match="allow-list"):
        render("select * from {{ t }}", {"t": "stops; drop table stops"}, {"t": ("stops",)})


def test_a_multi_line_value_fills_code_but_not_a_comment_naming_the_slot() -> None:
    sql = "-- reads {{ facts }} (a cube or the stops)\nselect sum(stops) from {{ facts }} as s"
    text = render(sql, {"facts": FRAGMENT}, {"facts": (FRAGMENT,)})
    assert text.splitlines()[0] == "-- reads {{ facts }} (a cube or the stops)"
    assert duckdb.connect().execute(text).fetchone()[0] == 3  # filled in the comment, the fragment's lines would break it


def test_slots_in_string_literals_are_left_alone() -> None:
    text = render("select '{{ x }}' as a, {{ x }} as b", {"x": "1"}, {"x": ("1",)})
    assert duckdb.connect().execute(text).fetchone() == ("{{ x }}", 1)
    assert len(split_statements(text + "; select 2")) == 2
