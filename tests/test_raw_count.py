"""The raw record count of a CSV export, taken from its bytes and not from the reader that loads it.

The load checks each file's count against the rows DuckDB's reader parsed plus the lines it
rejected (pipeline/quality.py ``files_read_whole``); these tests pin the count itself: exact on
the real samples, exact on the benchmark generator's malformed lines (where a quote-parity count
and a reader that lets quoted fields span lines both go wrong), and the same however the bytes are
cut into blocks. tests/test_quality_gates.py has the load failing when the reader loses a record.
"""

from __future__ import annotations

import csv
import gzip
import random
from pathlib import Path

import duckdb
import numpy as np
import pytest

from bench import generate as gen
from pipeline.config import PROJECT_ROOT, SAMPLE_DIR
from pipeline.extract import csv_records
from pipeline.extract.csv_records import RecordCounter, count_records, split_records
from pipeline.extract.files import read_csv_files

SHARED = PROJECT_ROOT.parent / "shared" / "data" / "traffic_violations"  # beside the repository, when present
SAMPLES = sorted(SAMPLE_DIR.glob("*.csv.gz")) + (sorted(SHARED.glob("*.csv")) if SHARED.is_dir() else [])


def python_csv_records(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        return sum(1 for row in csv.reader(fh) if row) - 1


def reader_records(path: Path) -> tuple[int, int]:
    """(rows DuckDB's reader parsed, lines it rejected after splitting swallowed records)."""
    con = duckdb.connect()
    finish, _ = read_csv_files(con, [path], "file")
    parsed = con.execute("select count(*) from src_rows").fetchall()[0][0]
    return parsed, finish(con)


def test_the_bundled_samples_are_all_checked() -> None:
    assert len(SAMPLES) >= 4


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_real_samples_count_exactly(path: Path) -> None:
    records = count_records(path)
    assert records == python_csv_records(path)  # Python's C csv module, same dialect
    assert records == sum(reader_records(path))  # and what the load's reader accounts for


def test_multi_line_fields_of_the_real_sample_are_one_record() -> None:
    path = SAMPLE_DIR / "mcpd_tv_sample_esraahefny333_2016.csv.gz"
    lines = gzip.decompress(path.read_bytes()).count(b"\n")
    assert count_records(path) == 11_983 < lines - 1  # 10 records hold line breaks in quotes


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("gen") / "synthetic.csv"
    return out, gen.generate(20_000, seed=7, out=out, malformed_rate=1 / 200)


def test_the_generators_malformed_lines_are_one_record_each(generated) -> None:
    path, summary = generated
    assert summary["malformed"]["unterminated_quote"] >= 20
    assert count_records(path) == 20_000
    # the other two ways of counting are wrong on this file, so the test above means something
    assert python_csv_records(path) < 20_000  # a stray quote swallows the next record(s)
    assert _parity_count(path.read_bytes()) != 20_000


def _parity_count(data: bytes) -> int:
    """The removed counter's rule: a record ends at a line break after an even number of quotes."""
    a = np.frombuffer(data, np.uint8)
    quotes_before = np.cumsum(a == 0x22)[a == 0x0A]
    return int(np.count_nonzero(quotes_before % 2 == 0)) - 1


def test_the_reader_accounts_for_every_generated_record_once_swallowed_ones_are_split(generated) -> None:
    path, summary = generated
    parsed, rejected = reader_records(path)
    assert parsed + rejected == 20_000
    swallowed = rejected - summary["malformed"]["unterminated_quote"] - summary["malformed"]["too_few_fields"]
    assert swallowed > 0  # DuckDB merged these into a stray quote's reject; each is its own row now


@pytest.mark.parametrize("block", [1 << 10, 100_000, 3 << 20, 1 << 30])
def test_the_count_does_not_depend_on_how_the_bytes_are_cut(generated, block: int, monkeypatch) -> None:
    path, _ = generated
    data = path.read_bytes()
    monkeypatch.setattr(csv_records, "MAX_RECORD_BYTES", 50_000)  # small, so blocks carry and decide often
    counter = RecordCounter()
    for start in range(0, len(data), block):
        counter.feed(data[start:start + block])
    assert counter.close() - 1 == 20_000


def test_random_well_formed_csv_counts_as_pythons_csv_module_reads_it(tmp_path) -> None:
    rng = random.Random(3)
    alphabet = ['a', 'b', ',', '"', '\n', '\r\n', ' ', 'é']
    rows = [[''.join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6))) for _ in range(4)] for _ in range(3000)]
    path = tmp_path / "random.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["h1", "h2", "h3", "h4"], *rows])
    assert count_records(path) == python_csv_records(path) == 3000


@pytest.mark.parametrize("text, records", [
    ("a,b\n1,2\n", 1),
    ("a,b\n1,2", 1),  # no line break at the end
    ("a,b\r\n1,2\r\n\r\n3,4\r\n", 2),  # blank lines are not records (DuckDB skips them)
    ("a,b\n1,\"x\ny\"\n3,4\n", 2),  # a line break inside a quoted field
    ("a,b\n1,\"x\"\"\ny\"\n3,4\n", 2),  # an escaped quote before it
    ("a,b\n1,x\"y\n3,4\n", 2),  # a quote inside an unquoted field is a character
    ("a,b\nx\",y,\"z\n3,4\"\n", 1),  # ... even when the line has an even number of quotes (DuckDB: 1 row)
    ("a,b\n1,\"x\n3,4\n5,6\n", 3),  # a quote that never closes: a stray quote, its line is a record
    ("a,b\n1,\"x,\n3,\"4th\",6\n", 2),  # closed by a quote followed by text: stray
    ("a,b\n   \n", 1),  # a line of spaces is a record (the reader rejects it)
])
def test_the_rule_on_small_files(tmp_path, text: str, records: int) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode())
    assert count_records(path) == records


def test_split_records_cuts_a_swallowing_reject_back_into_records() -> None:
    text = '1,"GARLAND,,No,\n2,MCP,"4th District, Wheaton",x\n3,"a\nb",c'
    assert split_records(text) == [(0, '1,"GARLAND,,No,'), (1, '2,MCP,"4th District, Wheaton",x'), (2, '3,"a\nb",c')]


def test_a_file_sources_count_runs_on_its_own_thread_and_is_complete_when_finish_returns(tmp_path, monkeypatch) -> None:
    """The count runs beside the raw copy and the reader's scan; ``finish`` waits for it, so the load
    never reads a partial ``file_records`` (an empty one would check nothing)."""
    import threading
    import time
    from datetime import date

    from pipeline.extract import files
    from pipeline.lake import LocalLake

    sample = SAMPLES[0]
    ran_on: list[str] = []

    def slow_count(path: Path) -> int:  # slower than the scan below
        ran_on.append(threading.current_thread().name)
        time.sleep(0.5)
        return count_records(path)

    monkeypatch.setattr(files, "count_records", slow_count)
    con = duckdb.connect()
    extracted = files.FileSource([sample]).extract(con, LocalLake(tmp_path / "lake"), "run-1", date(2026, 12, 8))
    parsed = con.execute("select count(*) from src_rows").fetchall()[0][0]
    rejected = extracted.finish(con)
    assert extracted.file_records == {sample.name: python_csv_records(sample)} == {sample.name: parsed + rejected}
    assert ran_on and ran_on[0] != threading.main_thread().name
