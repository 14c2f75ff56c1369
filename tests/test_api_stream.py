"""The API load streams: each page is typed into landing files as it arrives, with the same result.

Against the local fake SODA server (tests/fake_socrata.py), no internet:

* the pages are typed one by one, between the requests, never collected first (what keeps a 2M-row
  backfill in bounded memory; bench/api_backfill.py measures it);
* the warehouse equals, row for row, that of a reference load that reads the whole window into one
  all-text table, drops duplicates with one window over it and types it once (the design before
  issue 13), on a read with a row re-stamped mid-read (twice delivered: once quarantined, once
  valid), another re-stamped valid row, a quarantined row and an over-long value;
* the row store the benchmark serves (``StoredSocrata``) sends the same bytes as the in-memory fake.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipeline import transform as transform_module
from pipeline.config import Settings, load_settings
from pipeline.extract.socrata import SocrataExtractor
from pipeline.extract.socrata_source import SocrataSource
from pipeline.load import default_zip_assigner, run_load

from tests.fake_socrata import (  # noqa: F401 - sample_api_rows is a pytest fixture
    FAKE_APP_TOKEN,
    FakeSocrata,
    StoredSocrata,
    copy_rows,
    parse_stamp,
    sample_api_rows,
    store_rows,
)

PER_RUN = {"moco_traffic_violations": ("load_id", "loaded_at"), "stops": (), "quarantine_rows": ("load_id",)}


@pytest.fixture(scope="module")
def zip_assigner():
    return default_zip_assigner()


def settings_for(fake: FakeSocrata, root: Path, page_size: int = 200) -> Settings:
    return load_settings({
        "SOCRATA_DOMAIN": fake.url, "SOCRATA_DATASET": fake.dataset, "SOCRATA_APP_TOKEN": FAKE_APP_TOKEN,
        "SOCRATA_PAGE_SIZE": str(page_size), "SOCRATA_TIMEOUT": "10", "SOCRATA_MAX_RETRIES": "3",
        "PIPELINE_WAREHOUSE": f"duckdb:///{root / 'warehouse.duckdb'}", "PIPELINE_LAKE": str(root / "lake"),
    })


def ordered(fake: FakeSocrata) -> list[dict]:
    return sorted(fake.rows, key=lambda r: (parse_stamp(r[":updated_at"]), r[":id"]))


def table_rows(settings: Settings, table: str) -> list[tuple]:
    """Every row of a warehouse table, per-run columns left out and the run id in raw keys blanked, sorted."""
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        columns = [r[0] for r in con.execute(f"describe {table}").fetchall() if r[0] not in PER_RUN[table]]
        select = ", ".join(
            "regexp_replace(source_file, '/[^/]+/page-', '/<run>/page-') as source_file" if c == "source_file" else c
            for c in columns)
        return con.execute(f"select {select} from {table} order by all").fetchall()


class WholeRead(SocrataSource):
    """Reference: the read collected into one all-text table, duplicates dropped by one window, typed once."""

    def extract(self, con, lake, load_id, load_date):  # noqa: ANN001, ANN201
        result = super().extract(con, lake, load_id, load_date)
        pages = list(result.batches)  # the whole read, raw zone first, page by page
        whole = pa.concat_tables(pages)
        con.register("_whole", whole)
        # The duplicate rule as one window over every row read (the code this change replaced).
        deduped = con.sql(
            """select * from _whole
               qualify row_id is null or row_number() over (
                   partition by row_id
                   order by try_cast(source_updated_at as timestamp) desc nulls last, source_file desc, raw_line desc
               ) = 1"""
        ).to_arrow_table()
        con.unregister("_whole")
        self.reference_dropped = whole.num_rows - deduped.num_rows
        finish = result.finish

        def finish_without_superseded(con):  # noqa: ANN001, ANN202
            rejects = finish(con)
            con.execute("drop table src_superseded")  # already dropped above, by the window
            return rejects

        result.batches = iter([deduped])
        result.finish = finish_without_superseded
        return result


def shifted_read(rows: list[dict]) -> FakeSocrata:
    """A fake whose read shifts: two rows re-stamped while page 3 is asked for (both then arrive twice)."""
    fake = FakeSocrata(copy_rows(rows))
    keys = ordered(fake)
    quarantined_first, valid_first = keys[10][":id"], keys[250][":id"]
    fake.edit_row(quarantined_first, {"race": "NOT A RACE"}, at=parse_stamp(keys[10][":updated_at"]))
    fake.edit_row(keys[700][":id"], {"location": "L" * 600}, at=parse_stamp(keys[700][":updated_at"]))  # clipped
    fake.edit_row(keys[900][":id"], {"gender": "Q"}, at=parse_stamp(keys[900][":updated_at"]))  # quarantined
    done = {"edited": False}

    def restamp(req) -> bool:  # noqa: ANN001
        if req.params.get("$select") == ":*, *" and req.offset == 400 and not done["edited"]:
            done["edited"] = True
            fake.edit_row(quarantined_first, {"race": "WHITE"})  # the later copy is valid
            fake.edit_row(valid_first, {"description": "EDITED WHILE PAGING"})
        return False

    fake.slow(0, when=restamp)
    return fake


def test_a_streamed_api_load_equals_a_whole_read_typed_at_once(
    sample_api_rows: list[dict], tmp_path: Path, zip_assigner
) -> None:
    rows = sample_api_rows[:1200]
    results = {}
    for name, source_class in (("whole", WholeRead), ("streamed", SocrataSource)):
        with shifted_read(rows) as fake:
            settings = settings_for(fake, tmp_path / name)
            source = source_class(settings, full=True, sleep=lambda s: None)
            result = run_load(settings, source, "backfill", zip_assigner=zip_assigner)
            results[name] = (settings, result, source)

    (whole, whole_result, reference), (streamed, result, source) = results["whole"], results["streamed"]
    assert reference.reference_dropped == source.stats.duplicates_dropped == 2  # both re-stamped rows came twice
    assert result.rows_raw == whole_result.rows_raw == 1200
    assert result.rows_quarantined == whole_result.rows_quarantined >= 1
    for table in PER_RUN:
        assert table_rows(streamed, table) == table_rows(whole, table), table
    with duckdb.connect(str(streamed.duckdb_path), read_only=True) as con:
        assert con.execute("select count(*) from moco_traffic_violations where description = 'EDITED WHILE PAGING'"
                           ).fetchall()[0][0] == 1
        assert con.execute("select count(*) from moco_traffic_violations where race = 'WHITE' and "
                           "row_id in (select row_id from quarantine_rows)").fetchall()[0][0] == 0
        assert con.execute("select max(strlen(location)) from moco_traffic_violations").fetchall()[0][0] == 512
    assert "clipped" in result.message


def test_each_page_is_typed_before_the_next_is_asked_for(
    sample_api_rows: list[dict], tmp_path: Path, zip_assigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    typed = transform_module.test_pause

    def record_typed(stage: str, busy=None) -> None:  # noqa: ANN001
        if stage == "transforming":
            events.append("typed")
        typed(stage, busy)

    monkeypatch.setattr(transform_module, "test_pause", record_typed)
    with FakeSocrata(copy_rows(sample_api_rows[:1000])) as fake:
        def note_request(req) -> bool:  # noqa: ANN001
            if req.params.get("$select") == ":*, *":
                events.append("request")
            return False

        fake.slow(0, times=1000, when=note_request)
        settings = settings_for(fake, tmp_path)
        result = run_load(settings, SocrataSource(settings, full=True, sleep=lambda s: None), "backfill",
                          zip_assigner=zip_assigner)
    assert result.rows_raw == 1000
    # Five pages of 200 and the empty answer that ends the read: each page typed before the next request.
    assert events == ["request", "typed"] * 5 + ["request"]


def test_the_row_store_serves_the_same_bytes_as_the_in_memory_fake(sample_api_rows: list[dict], tmp_path: Path) -> None:
    rows = copy_rows(sample_api_rows[:1000])
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows),
                     encoding="utf-8")
    assert store_rows(jsonl, tmp_path / "rows.duckdb") == 1000
    middle = parse_stamp(ordered(FakeSocrata(rows))[500][":updated_at"])

    def read(fake: FakeSocrata, since: datetime | None) -> tuple[list[bytes], int | None, set[str]]:
        settings = settings_for(fake, tmp_path, page_size=300).with_overrides(socrata_lookback_hours=0.0)
        with SocrataExtractor(settings, sleep=lambda s: None) as extractor:
            pages = list(extractor.pages(since))
            return [p.raw for p in pages], extractor.count(since), {f for p in pages for f in p.fields or []}

    with FakeSocrata(rows) as memory, StoredSocrata(tmp_path / "rows.duckdb") as stored:
        for since in (None, middle):
            expected, got = read(memory, since), read(stored, since)
            assert got[0] == expected[0] and len(got[0]) >= (4 if since is None else 1)
            assert got[1:] == expected[1:]
        stored.fail(503, times=1)  # scripted faults work on the store too
        assert read(stored, None)[0] == read(memory, None)[0]
