"""Tests for bench/generate.py, the synthetic traffic-violation generator (small sizes, fast)."""

from __future__ import annotations

import collections
import csv
import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest

from bench import generate as gen

ROWS = 20_000


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("gen") / "synthetic.csv"
    summary = gen.generate(ROWS, seed=7, out=out, malformed_rate=1 / 1000)
    return out, summary


@pytest.fixture(scope="module")
def csv_records(csv_run) -> tuple[list[str], list[list[str]], list[list[str]]]:
    out, _ = csv_run
    with open(out, newline="", encoding="utf-8") as f:
        records = list(csv.reader(f))
    header, body = records[0], records[1:]
    good = [r for r in body if len(r) == 43 and _valid_date(r[1])]
    return header, body, good


def _valid_date(value: str) -> bool:
    try:
        datetime.strptime(value, "%m/%d/%Y")
    except ValueError:
        return False
    return True


def _shares(rows: list[list[str]], col: int) -> dict[str, float]:
    counts = collections.Counter(r[col] for r in rows)
    return {k: v / len(rows) for k, v in counts.items()}


def test_header_is_exactly_the_portal_export_layout(csv_records):
    header, _, _ = csv_records
    assert header == gen.CSV_COLUMNS
    assert len(header) == 43
    assert header[:3] == ["SeqID", "Date Of Stop", "Time Of Stop"] and header[-1] == "Geolocation"


def test_same_seed_gives_a_byte_identical_file(tmp_path):
    a = gen.generate(3000, seed=11, out=tmp_path / "a.csv")
    b = gen.generate(3000, seed=11, out=tmp_path / "b.csv")
    c = gen.generate(3000, seed=12, out=tmp_path / "c.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    assert a["malformed"] == b["malformed"]


def test_gzip_output_is_deterministic_too(tmp_path):
    gen.generate(2000, seed=5, out=tmp_path / "a.csv", gzip=True)
    gen.generate(2000, seed=5, out=tmp_path / "b.csv", gzip=True)
    a, b = (tmp_path / "a.csv.gz").read_bytes(), (tmp_path / "b.csv.gz").read_bytes()
    assert a == b
    assert gzip.decompress(a).startswith(b"SeqID,Date Of Stop,")


def test_row_count_and_every_record_marked_synthetic(csv_run, csv_records):
    _, summary = csv_run
    _, body, good = csv_records
    # an unterminated quote can swallow the next record, so the parsed count may be a bit lower
    assert ROWS - 2 * summary["malformed"]["unterminated_quote"] <= len(body) <= ROWS
    assert all(r[0].startswith(gen.SEQID_PREFIX) and len(r[0]) == 36 for r in good)
    assert all(r[3] == "MCP" for r in good)
    assert summary["synthetic"] is True and "SYNTHETIC" in summary["SYNTHETIC"]


def test_field_formats_match_the_export(csv_records):
    _, _, good = csv_records
    col = {c: i for i, c in enumerate(gen.CSV_COLUMNS)}
    for r in good[:2000]:
        m, d, y = r[col["Date Of Stop"]].split("/")
        assert len(m) == 2 and len(d) == 2 and 2012 <= int(y) <= 2025
        hh, mm, ss = r[col["Time Of Stop"]].split(":")
        assert len(hh) == len(mm) == len(ss) == 2
        assert r[col["Accident"]] in ("Yes", "No", "2")  # "2" is a real oddity of the 2019 export
        assert r[col["Contributed To Accident"]] in ("true", "false")
        geo = r[col["Geolocation"]]
        if r[col["Latitude"]] in ("", "0"):
            assert geo in ("", "(0.0, 0.0)")
        else:
            assert geo.startswith("(") and geo.endswith(")") and ", " in geo


def test_race_gender_and_violation_type_shares_are_near_the_published_ones(csv_records):
    _, _, good = csv_records
    col = {c: i for i, c in enumerate(gen.CSV_COLUMNS)}
    published = [
        ("Race", gen.RACES, gen.RACE_COUNTS),
        ("Gender", gen.GENDERS, gen.GENDER_COUNTS),
        ("Violation Type", gen.VIOLATION_TYPES, gen.VIOLATION_TYPE_COUNTS),
        ("SubAgency", gen.DISTRICTS, gen.DISTRICT_COUNTS),
    ]
    for name, cats, counts in published:
        got = _shares(good, col[name])
        total = sum(counts)
        for cat, cnt in zip(cats, counts):
            assert abs(got.get(cat, 0) - cnt / total) < 0.03, (name, cat, got.get(cat), cnt / total)


def test_search_fields_follow_the_published_rates(csv_run, csv_records):
    _, summary = csv_run
    _, _, good = csv_records
    col = {c: i for i, c in enumerate(gen.CSV_COLUMNS)}
    disposition = sum(1 for r in good if r[col["Search Disposition"]]) / len(good)
    outcome_missing = sum(1 for r in good if not r[col["Search Outcome"]]) / len(good)
    assert abs(disposition - 0.0434) < 0.01
    assert abs(outcome_missing - 0.389) < 0.03
    searched = [r for r in good if r[col["Search Conducted"]] == "Yes"]
    assert all(r[col["Search Disposition"]] and r[col["Search Type"]] and r[col["Search Reason"]] for r in searched)
    assert all(r[col["Search Outcome"]] == "Arrest" for r in searched if r[col["Search Reason"]] == "Incident to Arrest")
    assert abs(summary["search_disposition_share"] - disposition) < 0.002


def test_stops_have_several_charges_that_share_stop_fields(csv_run, csv_records):
    _, summary = csv_run
    _, _, good = csv_records
    col = {c: i for i, c in enumerate(gen.CSV_COLUMNS)}
    stops = collections.defaultdict(list)
    for r in good:
        stops[r[0]].append(r)
    assert len(good) / len(stops) > 1.3
    assert summary["charges_per_stop"] > 1.3
    shared = ["Date Of Stop", "Time Of Stop", "Location", "Latitude", "Race", "Gender", "Make",
              "Driver City", "Search Outcome", "SubAgency"]
    for rows in stops.values():
        if len(rows) > 1:
            for c in shared:
                assert len({r[col[c]] for r in rows}) == 1, c


def test_missing_and_zero_coordinates_occur(csv_run, csv_records):
    _, summary = csv_run
    _, _, good = csv_records
    col = {c: i for i, c in enumerate(gen.CSV_COLUMNS)}
    lat = [r[col["Latitude"]] for r in good]
    assert 0.02 < lat.count("") / len(lat) < 0.4
    assert lat.count("0") > 0
    assert summary["coords_missing_rows"] > 0 and summary["coords_zero_rows"] > 0


def test_malformed_lines_are_present_and_counted(csv_run, csv_records):
    _, summary = csv_run
    _, body, _ = csv_records
    bad = summary["malformed"]
    assert bad["total"] == round(ROWS / 1000) == sum(bad[k] for k in gen.CSV_BAD_KINDS)
    assert all(bad[k] > 0 for k in gen.CSV_BAD_KINDS)
    short = [r for r in body if len(r) < 43]
    bad_dates = [r for r in body if len(r) == 43 and not _valid_date(r[1])]
    assert len(short) >= bad["too_few_fields"]
    assert len(bad_dates) >= bad["bad_date"]


def test_default_rate_gives_at_least_one_malformed_line(tmp_path):
    s = gen.generate(5000, seed=1, out=tmp_path / "d.csv")
    assert s["malformed"]["total"] == 1
    s = gen.generate(5000, seed=1, out=tmp_path / "e.csv", malformed_rate=0)
    assert s["malformed"]["total"] == 0
    with open(tmp_path / "e.csv", newline="", encoding="utf-8") as f:
        assert {len(r) for r in csv.reader(f)} == {43}


def test_sidecar_says_synthetic_with_seed_rows_and_version(csv_run):
    out, summary = csv_run
    sidecar = Path(summary["sidecar"])
    assert sidecar == out.with_name(out.name + ".SYNTHETIC.txt")
    text = sidecar.read_text(encoding="utf-8")
    assert text.startswith("SYNTHETIC DATA — resampled from real sample rows; not real stops")
    assert f"seed:              {summary['seed']}" in text
    assert f"rows:              {ROWS}" in text
    assert gen.GENERATOR_VERSION in text


def test_json_has_the_soda_shape(tmp_path):
    summary = gen.generate(2000, seed=3, out=tmp_path / "s.json", fmt="json", malformed_rate=1 / 500)
    records = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert isinstance(records, list) and len(records) == 2000
    assert summary["malformed"]["total"] == 4
    ids = [r[":id"] for r in records]
    assert len(set(ids)) == len(ids)
    for r in records:
        assert r[":id"].startswith("row-synt_") and len(r[":id"]) == len("row-xxxx_xxxx_xxxx")
        assert r[":updated_at"] >= r[":created_at"] and r[":updated_at"].endswith("Z")
        for key, value in r.items():
            if key == "geolocation":
                assert set(value) == {"latitude", "longitude", "human_address"}
                assert all(isinstance(v, str) for v in value.values())
            elif key == "contributed_to_accident":
                assert isinstance(value, bool)  # a Socrata checkbox column comes back as a JSON boolean
            else:
                assert isinstance(value, str), key
        assert set(r) <= {":id", ":created_at", ":updated_at", *gen.SODA_FIELDS}
    full = [r for r in records if len(r) >= 40]
    assert all(r["seqid"].startswith(gen.SEQID_PREFIX) for r in full)
    assert all(r["date_of_stop"].endswith("T00:00:00.000") for r in full)


def test_json_lines_has_one_record_per_line(tmp_path):
    gen.generate(500, seed=3, out=tmp_path / "s.jsonl", fmt="json", jsonl=True)
    lines = (tmp_path / "s.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 500
    assert all(json.loads(line)[":id"].startswith("row-synt_") for line in lines)


def test_cli_writes_file_and_says_synthetic(tmp_path, capsys):
    out = tmp_path / "cli.csv"
    assert gen.main(["--rows", "1000", "--seed", "2", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "SYNTHETIC" in captured.err
    assert json.loads(captured.out)["synthetic"] is True
    assert out.exists() and out.with_name("cli.csv.SYNTHETIC.txt").exists()


def test_streaming_in_chunks_keeps_the_output_valid_and_render_size_does_not_change_it(tmp_path, monkeypatch):
    monkeypatch.setattr(gen, "CHUNK_ROWS", 1000)
    gen.generate(3500, seed=9, out=tmp_path / "big.csv", malformed_rate=0)
    gen.generate(3500, seed=9, out=tmp_path / "big.json", fmt="json", malformed_rate=1 / 1000)
    monkeypatch.setattr(gen, "RENDER_ROWS", 300)
    gen.generate(3500, seed=9, out=tmp_path / "small.csv", malformed_rate=0)
    gen.generate(3500, seed=9, out=tmp_path / "small.json", fmt="json", malformed_rate=1 / 1000)
    assert (tmp_path / "big.csv").read_bytes() == (tmp_path / "small.csv").read_bytes()
    assert (tmp_path / "big.json").read_bytes() == (tmp_path / "small.json").read_bytes()
    with open(tmp_path / "small.csv", newline="", encoding="utf-8") as f:
        records = list(csv.reader(f))
    assert len(records) == 3501 and records.count(gen.CSV_COLUMNS) == 1
    parsed = json.loads((tmp_path / "small.json").read_text(encoding="utf-8"))
    assert len(parsed) == 3500 and len({r[":id"] for r in parsed}) == 3500


def test_falls_back_to_the_bundled_gzip_samples(tmp_path):
    bundled = gen.REPO_ROOT / "data" / "sample"
    if not any(bundled.glob("*.csv.gz")):
        pytest.skip("no bundled sample in data/sample")
    s = gen.generate(2000, seed=4, out=tmp_path / "f.csv", samples_dir=bundled)
    assert all(src["path"].endswith(".csv.gz") for src in s["sources"])
    assert s["charges_per_stop"] > 1.2 and s["pool_rows"] > 10_000
