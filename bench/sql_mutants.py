"""Scripted mutation run for the rules that live in SQL (mutmut only mutates Python).

Each mutant is one changed line in a copy of the repository; the tests that should notice are run
against that copy, and the mutant is *killed* when they fail. Nothing in this checkout is modified.

    nice -n 10 .venv/bin/python -m bench.sql_mutants            # all mutants, a table at the end
    nice -n 10 .venv/bin/python -m bench.sql_mutants -k until   # the mutants whose name contains "until"
    nice -n 10 .venv/bin/python -m bench.sql_mutants --core     # each against the fast tier (pytest -m core)

Run time: 8 s to 4 min per mutant on a busy 2-core machine, ~10 min for all 18 (docs/TESTING.md
has the last result).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPY = ["pipeline", "dashboard", "pages", "sql", "data", "tests", "static", ".streamlit", "conftest.py",
        "pytest.ini", "streamlit_app.py"]

STOP_TESTS = ["tests/test_stop_rule.py", "tests/test_transform.py", "tests/test_load.py"]
WINDOW_TESTS = ["tests/test_date_window.py", "tests/test_load.py"]
SUPPRESSION_TESTS = ["tests/test_queries.py", "tests/test_dashboard_pages.py"]


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple[str, ...]


FALLBACK_KEY_TIME = "cast(date_of_stop as varchar), cast(time_of_stop as varchar), coalesce(location, '')"
MUTANTS = [
    # the stop key (sql/transform/landing.sql)
    Mutant("fallback key without the time", "sql/transform/landing.sql", FALLBACK_KEY_TIME,
           "cast(date_of_stop as varchar), coalesce(location, '')", tuple(STOP_TESTS)),
    Mutant("fallback key without the date", "sql/transform/landing.sql", FALLBACK_KEY_TIME,
           "cast(time_of_stop as varchar), coalesce(location, '')", tuple(STOP_TESTS)),
    Mutant("SeqID ignored (fallback rule for every row)", "sql/transform/landing.sql",
           "when seq_id is not null then concat_ws", "when false then concat_ws", tuple(STOP_TESTS)),
    Mutant("SeqID key without date and time", "sql/transform/landing.sql",
           "concat_ws('|', seq_id, cast(date_of_stop as varchar), cast(time_of_stop as varchar))",
           "concat_ws('|', seq_id)", tuple(STOP_TESTS)),
    Mutant("fallback key without the location", "sql/transform/landing.sql",
           "cast(time_of_stop as varchar), coalesce(location, ''),\n                coalesce(lower(subagency), '')",
           "cast(time_of_stop as varchar),\n                coalesce(lower(subagency), '')", tuple(STOP_TESTS)),
    Mutant("fallback key without the race", "sql/transform/landing.sql",
           "coalesce(lower(subagency), ''), coalesce(race, ''), coalesce(gender, '')",
           "coalesce(lower(subagency), ''), coalesce(gender, '')", tuple(STOP_TESTS)),
    Mutant("fallback key without the vehicle make", "sql/transform/landing.sql",
           "coalesce(make, ''), coalesce(model, ''), coalesce(color, ''),\n                coalesce(cast(vehicle_year",
           "coalesce(model, ''), coalesce(color, ''),\n                coalesce(cast(vehicle_year", tuple(STOP_TESTS)),
    Mutant("fallback key without the coordinates", "sql/transform/landing.sql",
           ",\n                coalesce(cast(latitude as varchar), ''), coalesce(cast(longitude as varchar), ''))\n        end",
           ")\n        end", tuple(STOP_TESTS)),
    Mutant("fallback key with the district's case kept", "sql/transform/landing.sql",
           "coalesce(location, ''),\n                coalesce(lower(subagency), '')",
           "coalesce(location, ''),\n                coalesce(subagency, '')", tuple(STOP_TESTS)),
    Mutant("fallback key without the gender", "sql/transform/landing.sql",
           "coalesce(race, ''), coalesce(gender, ''),\n                coalesce(driver_city, '')",
           "coalesce(race, ''),\n                coalesce(driver_city, '')", tuple(STOP_TESTS)),
    # a stop's outcome and counts (sql/marts/stops.sql)
    Mutant("outcome: SERO before Citation", "sql/marts/stops.sql",
           "case when p.n_citations > 0 then 'Citation' when p.n_sero > 0 then 'SERO'",
           "case when p.n_sero > 0 then 'SERO' when p.n_citations > 0 then 'Citation'", tuple(STOP_TESTS)),
    Mutant("most serious charge: ESERO ranked as a warning", "sql/marts/stops.sql",
           "when 'ESERO' then '2'", "when 'ESERO' then '3'", tuple(STOP_TESTS)),
    Mutant("charges per stop without repeats", "sql/marts/stops.sql",
           "count(*) as n_charges,", "count(distinct charge) as n_charges,", tuple(STOP_TESTS)),
    # ZIP residents (sql/analysis/zip_population.sql)
    Mutant("ZIP residents from every county's tracts", "sql/analysis/zip_population.sql",
           "where tractid like '24031%' and totalpop is not null", "where totalpop is not null",
           ("tests/test_analysis_benchmark.py",)),
    # identical rows (sql/transform/keys.sql)
    Mutant("identical rows: repeats need 3 copies", "sql/transform/keys.sql", "having count(*) > 1",
           "having count(*) > 2", tuple(STOP_TESTS)),
    Mutant("identical rows: ordinal ignores the source file order", "sql/transform/keys.sql",
           "partition by l.content_hash order by l.source_file", "partition by l.content_hash",
           tuple(STOP_TESTS)),
    # the date window (sql/transform/landing.sql)
    Mutant("--since exclusive", "sql/transform/landing.sql", "date_of_stop >= cast(:since as date)",
           "date_of_stop > cast(:since as date)", tuple(WINDOW_TESTS)),
    Mutant("--until exclusive", "sql/transform/landing.sql", "date_of_stop <= cast(:until as date)",
           "date_of_stop < cast(:until as date)", tuple(WINDOW_TESTS)),
    # small-count suppression (sql/dashboard/stops_by.sql, location_grid.sql)
    Mutant("stops_by: threshold off by one", "sql/dashboard/stops_by.sql",
           "cast(case when stops < :min_count then null else stops end as bigint) as stops",
           "cast(case when stops <= :min_count then null else stops end as bigint) as stops",
           tuple(SUPPRESSION_TESTS)),
    Mutant("stops_by: stop counts never suppressed", "sql/dashboard/stops_by.sql",
           "cast(case when stops < :min_count then null else stops end as bigint) as stops",
           "cast(stops as bigint) as stops", tuple(SUPPRESSION_TESTS)),
    Mutant("stops_by: charge counts never suppressed", "sql/dashboard/stops_by.sql",
           "cast(case when stops < :min_count then null else charges end as bigint) as charges",
           "cast(charges as bigint) as charges", tuple(SUPPRESSION_TESTS)),
    Mutant("stops_by: suppressed flag never set", "sql/dashboard/stops_by.sql",
           "cast(case when stops < :min_count then 1 else 0 end as integer) as suppressed",
           "cast(0 as integer) as suppressed", tuple(SUPPRESSION_TESTS)),
    Mutant("location grid: small cells kept", "sql/dashboard/location_grid.sql",
           "having count(*) >= :min_count", "having count(*) >= 1", tuple(SUPPRESSION_TESTS)),
]


def copy_tree(dest: Path) -> None:
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            shutil.copy2(src, dest / name)


def run_mutant(tree: Path, m: Mutant, core: bool = False) -> tuple[str, float]:
    target = tree / m.path
    original = target.read_text()
    if original.count(m.old) == 0:
        return "n/a (text not in this version)", 0.0
    assert original.count(m.old) == 1, f"{m.name}: the text to change occurs {original.count(m.old)} times in {m.path}"
    target.write_text(original.replace(m.old, m.new))
    tests = [t for t in m.tests if (tree / t).exists()]  # an older checkout may lack some test files
    # --core: the fast tier (tests/conftest.py CORE_TESTS) instead of the mutant's own test files.
    selection = ["-m", "core", "tests"] if core else ["-m", "not statistics", *tests]
    start = time.perf_counter()
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                              *selection], cwd=tree, capture_output=True, text=True)
    finally:
        target.write_text(original)
    verdict = "killed" if run.returncode == 1 else "survived" if run.returncode == 0 else f"error (pytest exit {run.returncode})"
    return verdict, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="", help="only mutants whose name contains this text")
    parser.add_argument("--core", action="store_true", help="run every mutant against the fast tier (pytest -m core)")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if args.k.lower() in m.name.lower()]
    results = []
    with tempfile.TemporaryDirectory(prefix="sql_mutants_") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        for m in chosen:
            verdict, seconds = run_mutant(tree, m, core=args.core)
            results.append((m, verdict))
            print(f"{verdict:9s} {seconds:6.1f} s  {m.name}  ({m.path})", flush=True)
    killed = sum(v == "killed" for _, v in results)
    print(f"\n{killed} of {len(results)} SQL mutants killed")
    return 0 if all(v in ("killed", "survived") or v.startswith("n/a") for _, v in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
