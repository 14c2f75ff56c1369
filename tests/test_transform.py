"""Standardisation of real sample rows: names, types, flags, coordinates, quarantine reasons, keys."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import SAMPLE_DIR
from pipeline.extract.files import read_csv_files
from pipeline.schema import canonical_name, map_headers
from pipeline.transform import YearFiles, transform, work_connection

FIXTURES = Path(__file__).parent / "fixtures"


def no_zip(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.full(len(lat), None, dtype=object), np.full(len(lat), "outside_county", dtype=object)


def real_lines(name: str, n: int) -> tuple[str, list[str]]:
    """Header and the first n records of a bundled real sample file, as CSV text lines."""
    with gzip.open(SAMPLE_DIR / name, "rt", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [r for _, r in zip(range(n), reader)]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue(), header


def run_transform(paths: list[Path], work_dir: Path):  # noqa: ANN201
    con = work_connection()
    finish, unknown = read_csv_files(con, paths, "file")
    counts = transform(con, "file", "test-load", no_zip, work_dir, finish=finish)
    return con, counts.records, counts


@pytest.mark.parametrize(
    "header, expected",
    [
        ("Date Of Stop", "date_of_stop"),
        ("date_of_stop", "date_of_stop"),
        ("SeqID", "seq_id"),
        ("seqid", "seq_id"),
        ("VehicleType", "vehicle_type"),
        ("vehicletype", "vehicle_type"),
        ("Year", "vehicle_year"),
        ("Manufacture Year", "vehicle_year"),
        ("DL State", "dl_state"),
        ("Search Reason For Stop", "search_reason_for_stop"),
        ("HAZMAT", "hazmat"),
    ],
)
def test_export_and_api_headers_map_to_one_canonical_name(header: str, expected: str) -> None:
    assert canonical_name(header) == expected


def test_every_bundled_layout_maps_without_missing_required_columns() -> None:
    for path in sorted(SAMPLE_DIR.glob("*.csv.gz")) + [FIXTURES / "mcpd_tv_sample_nischal_2025_augmented.csv.gz"]:
        with gzip.open(path, "rt", newline="") as fh:
            header = next(csv.reader(fh))
        mapping, unknown, missing = map_headers([h or "column00" for h in header])
        assert missing == [], path.name
        assert "date_of_stop" in mapping.values()


def test_real_rows_are_typed_and_counts_reconcile(tmp_path: Path) -> None:
    text, _ = real_lines("mcpd_tv_sample_esraahefny333_2016.csv.gz", 500)
    path = tmp_path / "export.csv"
    path.write_text(text)
    con, records, counts = run_transform([path], tmp_path)
    assert records == 500
    assert counts.landed + counts.quarantined == 500
    first = con.execute(
        "select date_of_stop, time_of_stop, latitude, longitude, belts, accident, district, race, violation_type "
        "from curated where latitude = 38.98447 and longitude = -77.0941383333"
    ).fetchall()[0]
    # First data line of the real file: 11/23/2016,10:56:00,...,"2nd district, Bethesda",...,38.98447,-77.0941383333
    assert str(first[0]) == "2016-11-23"
    assert str(first[1]) == "10:56:00"
    assert first[2] == pytest.approx(38.98447)
    assert first[3] == pytest.approx(-77.0941383333)
    assert first[4] is False and first[5] is False
    assert first[6] == "2nd District, Bethesda"  # lower-case "district" in 2012-2016 exports normalised
    assert first[7] == "WHITE" and first[8] == "Citation"


def test_zero_and_missing_coordinates_become_null_not_dropped(tmp_path: Path) -> None:
    text, header = real_lines("mcpd_tv_sample_tolu238_2017.csv.gz", 50)
    lines = text.splitlines()
    lat_i, lon_i = header.index("Latitude"), header.index("Longitude")
    rows = list(csv.reader(lines[1:]))
    desc_i = header.index("Description")
    rows[0][lat_i], rows[0][lon_i], rows[0][desc_i] = "0", "0", "TEST ROW 1"
    rows[1][lat_i], rows[1][lon_i], rows[1][desc_i] = "", "", "TEST ROW 2"
    path = tmp_path / "zeros.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    con, _, counts = run_transform([path], tmp_path)
    got = con.execute(
        "select description, latitude, zip_status from curated where description like 'TEST ROW %' order by 1"
    ).fetchall()
    assert got == [("TEST ROW 1", None, "no_coordinates"), ("TEST ROW 2", None, "no_coordinates")]
    assert counts.landed == 50


def test_bad_rows_go_to_quarantine_with_a_reason(tmp_path: Path) -> None:
    text, header = real_lines("mcpd_tv_sample_nikolausn_2016.csv.gz", 20)
    rows = list(csv.reader(text.splitlines()[1:]))
    rows[0][header.index("Date Of Stop")] = "13/45/2019"
    rows[1][header.index("Time Of Stop")] = "25:99:00"
    rows[2][header.index("Latitude")] = "139.2"
    rows[2][header.index("Longitude")] = "-77.1"
    rows[3][header.index("Race")] = "No"  # the shifted-fields pattern seen in the 2016 sample
    rows[4][header.index("Violation Type")] = ""
    path = tmp_path / "bad.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
        fh.write("01/01/2015,too,few,fields\r\n")  # a line the CSV reader itself rejects
    con, records, counts = run_transform([path], tmp_path)
    assert records == 21
    assert counts.quarantined == 6 and counts.landed == 15
    # Rows that failed a check carry their reason and raw text (the parallel reader gives no line number).
    quarantine = counts.quarantine  # noqa: F841 - the batch's quarantine, read by DuckDB
    typed = sorted(con.execute("select reason, raw_text from quarantine where raw_line is null").fetchall())
    assert [r[0].split(":")[0] for r in typed] == [
        "impossible coordinates", "missing violation_type", "race not an allowed value (shifted fields?)",
        "unparseable date_of_stop", "unparseable time_of_stop",
    ]
    assert "13/45/2019" in dict(typed)["unparseable date_of_stop: 13/45/2019"]
    assert "25:99:00" in [t for r, t in typed if r.startswith("unparseable time_of_stop")][0]
    # A line the reader itself rejected keeps its exact line number.
    line, reason = con.execute("select raw_line, reason from quarantine where raw_line is not null").fetchall()[0]
    assert line == 22 and "MISSING COLUMNS" in reason  # file line 22 = header + 20 rows + this one


def test_shifted_rows_in_the_real_2016_sample_are_quarantined_not_loaded(tmp_path: Path) -> None:
    con, records, counts = run_transform([SAMPLE_DIR / "mcpd_tv_sample_esraahefny333_2016.csv.gz"], tmp_path)
    assert records == 11_983  # SOURCES.md: 11,983 records
    # SOURCES.md: 18 rows have Race == "No" (fields shifted). They fail typing on the shifted columns.
    assert counts.quarantined >= 18
    assert con.execute("select count(*) from curated where race = 'NO'").fetchall()[0][0] == 0
    assert counts.landed + counts.quarantined == records


def test_exact_duplicate_rows_are_kept_as_separate_charges_with_distinct_keys(tmp_path: Path) -> None:
    # SOURCES.md: the 2016 sample has 25 exact-duplicate rows (one stop, several identical charges).
    con, _, counts = run_transform([SAMPLE_DIR / "mcpd_tv_sample_esraahefny333_2016.csv.gz"], tmp_path)
    dup_groups = con.execute(
        "select count(*) from (select split_part(content_key, ':', 1) h, count(*) n from curated group by 1 having n > 1)"
    ).fetchall()[0][0]
    assert dup_groups > 0
    assert con.execute("select count(*) - count(distinct row_id) from curated").fetchall()[0][0] == 0


def test_stop_rule_groups_charges_like_seqid_on_the_2019_sample(tmp_path: Path) -> None:
    con, _, _ = run_transform([SAMPLE_DIR / "mcpd_tv_sample_nerox_2019.csv.gz"], tmp_path)
    charges, stops, seqids = con.execute(
        "select count(*), count(distinct stop_id), count(distinct seq_id) from curated"
    ).fetchall()[0]
    assert (charges, stops, seqids) == (439, 297, 297)


def test_current_43_column_layout_with_search_fields_is_typed(tmp_path: Path) -> None:
    con, records, counts = run_transform([FIXTURES / "mcpd_tv_sample_nischal_2025_augmented.csv.gz"], tmp_path)
    assert records == 567
    searched = con.execute("select count(*) from curated where search_conducted").fetchall()[0][0]
    unknown = con.execute("select count(*) from curated where search_conducted is null").fetchall()[0][0]
    assert searched == 4  # "Yes" x4 in the file; "Unknown" x259 become null
    assert unknown == 259
    assert str(con.execute("select min(date_of_stop) from curated").fetchall()[0][0]) == "2025-01-01"


def test_landing_rows_are_split_into_one_file_per_stop_year(tmp_path: Path) -> None:
    # The 2017 tolu238 sample spreads its stops over 2012-2016 (SOURCES.md).
    _, _, counts = run_transform([SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz"], tmp_path)
    files = sorted((tmp_path / "landing").glob("charges_*.parquet"))
    assert [f.name for f in files] == [f"charges_{y}.parquet" for y in range(2012, 2017)]
    con = work_connection()
    total = 0
    for f in files:
        n, lo, hi = con.execute(
            "select count(*), min(year(date_of_stop)), max(year(date_of_stop)) from read_parquet(?)", [str(f)]
        ).fetchall()[0]
        assert lo == hi == int(f.stem.split("_")[1])
        total += n
    assert total == counts.landed


def test_year_files_write_only_the_kept_rows_in_source_order_by_year(tmp_path: Path) -> None:
    # write_landing hands the whole typed batch and a mask of the passing rows (no filtered copy):
    # the rows the mask drops (quarantined, outside the window; their date may be null) are not written.
    batch = pa.RecordBatch.from_pydict({
        "date_of_stop": pa.array([date(2014, 5, 1), date(2013, 1, 2), None, date(2014, 1, 9), date(2013, 7, 3), date(2014, 2, 2)]),
        "n": pa.array([0, 1, 2, 3, 4, 5]),
    })
    keep = np.array([True, True, False, True, False, True])
    years = YearFiles(tmp_path, batch.schema)
    years.write(batch, keep)
    years.write(batch.slice(0, 2))  # no mask: every row
    files = years.close()
    assert [f.name for f in files] == ["charges_2013.parquet", "charges_2014.parquet"]
    assert pq.read_table(files[0]).column("n").to_pylist() == [1, 1]
    assert pq.read_table(files[1]).column("n").to_pylist() == [0, 3, 5, 0]


def test_a_row_in_two_files_gets_the_same_key_per_file_whatever_the_file_order(tmp_path: Path) -> None:
    text, _ = real_lines("mcpd_tv_sample_nerox_2019.csv.gz", 30)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(text)
    b.write_text(text)  # the same 30 rows again: an overlapping export
    keys = []
    for i, order in enumerate(([a, b], [b, a])):
        con, records, counts = run_transform(order, tmp_path / f"run{i}")
        assert records == 60 and counts.landed == 60
        assert con.execute("select count(distinct row_id) from curated").fetchall()[0][0] == 60
        keys.append(sorted(con.execute("select source_file, row_id from curated").fetchall()))
    assert keys[0] == keys[1]
