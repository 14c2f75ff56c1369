"""The provenance line names the source truthfully on every page: the portal API, a loaded file by
its name, the bundled sample, and SYNTHETIC for rows bench/generate.py made (SeqID '00000000-...')."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import db, routing, ui

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
PAGES = [p.file for p in routing.PAGES]


def _sources(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["source", "file_name", "charges", "synthetic_charges"])


def test_the_source_text_names_the_api_the_file_and_the_sample():
    assert ui.source_text(_sources(("socrata", None, 2000, 0))) == ("the county's open-data portal (API)", False)
    assert ui.source_text(_sources(("file", "Traffic_Violations.csv", 2000, 0))) == \
        ("the file Traffic\\_Violations\\.csv", False)  # escaped: a file name is outside text
    text, synthetic = ui.source_text(_sources(("sample", None, 900, 0), ("socrata", None, 100, 0)))
    assert not synthetic
    assert text.startswith("the bundled sample (a small subset of real rows") and "(900 charges)" in text
    assert text.endswith("; the county's open-data portal (API) (100 charges)")


def test_rows_from_the_generator_are_called_synthetic_whatever_their_route_in():
    text, synthetic = ui.source_text(_sources(("file", "gen.csv", 3000, 3000)))
    assert synthetic
    assert text == "SYNTHETIC data (all rows made by bench/generate.py: not real stops), loaded from the file gen\\.csv"
    text, synthetic = ui.source_text(_sources(("socrata", None, 3000, 0), ("file", "gen.csv", 1000, 10)))
    assert synthetic and text.startswith("SYNTHETIC data (10 of 4,000 rows made by bench/generate.py")


def test_many_files_are_named_up_to_three():
    text, _ = ui.source_text(_sources(*[("file", f"part{i}.csv", 100 - i, 0) for i in range(6)]))
    assert "part2" in text and "part3" not in text and "3 more files" in text


@pytest.fixture(scope="module")
def synthetic_warehouse(tmp_path_factory):
    from bench import generate as gen
    from pipeline.extract.files import FileSource
    from pipeline.load import run_load
    from pipeline.reference import ensure_reference
    from pipeline.warehouse import open_warehouse
    from tests.conftest import make_settings

    root = tmp_path_factory.mktemp("synthetic_wh")
    path = root / "generated_stops.csv"
    gen.generate(3000, seed=7, out=path, malformed_rate=0.0)
    s = make_settings(root)
    wh = open_warehouse(s)
    ensure_reference(s, wh)
    run_load(s, FileSource([path]), "backfill", warehouse=wh)
    return s


def _provenance_shown(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "bench/generate.py" in w.value] + \
        [c.value for c in at.caption if c.value.startswith("Data: ")]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_says_synthetic_data_is_synthetic_and_names_its_file(synthetic_warehouse, monkeypatch, page):
    monkeypatch.setenv("PIPELINE_WAREHOUSE", synthetic_warehouse.warehouse_url)
    at = AppTest.from_file(str(APP), default_timeout=90).run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    try:
        assert not at.exception, [e.value for e in at.exception]
        shown = _provenance_shown(at)
        assert len(shown) == 1, shown
        assert shown[0].startswith("Data: SYNTHETIC data (all rows made by bench/generate.py: not real stops), "
                                   "loaded from the file generated\\_stops\\.csv;")
    finally:
        db.reset()


def test_the_sample_is_named_as_the_sample(sample_warehouse, monkeypatch):
    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse.warehouse_url)
    at = AppTest.from_file(str(APP), default_timeout=90).run()
    try:
        shown = _provenance_shown(at)
        assert len(shown) == 1 and shown[0].startswith("Data: the bundled sample (a small subset of real rows")
        assert not [w for w in at.warning if "SYNTHETIC" in w.value]
    finally:
        db.reset()
