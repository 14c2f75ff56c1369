"""`python -m pipeline reference --hud-zip-tract FILE` as the README documents it: HUD's .xlsx files
are read, and a file on 2020 census tracts is refused (the bundled census data uses 2010 tracts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline import cli
from pipeline.config import PROJECT_ROOT
from pipeline.demographics import load_bundle
from pipeline.reference import TractVintageError, check_tract_vintage


@pytest.fixture(scope="module")
def bundle() -> dict:
    return load_bundle()


def hud_tract_zip(bundle: dict) -> pd.DataFrame:
    """A TRACT_ZIP file on 2010 tracts, laid out as HUD's (RES_RATIO sums to 1 per tract), whose
    ratios are the bundle's own land-area weights: the demographics must come out the same."""
    w = bundle["zip_tract_weights"]
    return pd.DataFrame({"TRACT": w["tract"], "ZIP": w["zip"], "RES_RATIO": w["weight"],
                         "BUS_RATIO": w["weight"], "OTH_RATIO": 0.0, "TOT_RATIO": w["weight"]})


def reference(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "SOCRATA_", "REDSHIFT_"))}
    env.update(PIPELINE_WAREHOUSE=f"duckdb:///{tmp_path / 'wh.duckdb'}", PIPELINE_LAKE=str(tmp_path / "lake"),
               PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.run([sys.executable, "-m", "pipeline", "--json", "reference", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def zip_demographics(tmp_path: Path) -> pd.DataFrame:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        return con.sql("select * from zip_demographics order by zip5").df()


def test_a_hud_xlsx_on_2010_tracts_loads_and_sets_the_weights(tmp_path: Path, bundle: dict) -> None:
    path = tmp_path / "TRACT_ZIP_122022.xlsx"
    hud_tract_zip(bundle).to_excel(path, index=False)  # HUD's download format (openpyxl)
    assert reference(tmp_path).returncode == cli.EXIT_OK
    land_area = zip_demographics(tmp_path)
    run = reference(tmp_path, "--hud-zip-tract", str(path))
    assert run.returncode == cli.EXIT_OK, run.stderr[-2000:]
    assert '"weight_method": "hud_res_ratio"' in run.stdout
    hud = zip_demographics(tmp_path)
    assert set(hud["weight_method"]) == {"hud_res_ratio"}
    # Same weights, read back from the spreadsheet: the same residents per ZIP.
    pd.testing.assert_series_equal(hud["residents"], land_area["residents"], rtol=1e-9)


def test_a_hud_file_on_2020_tracts_is_refused_with_the_rule_and_changes_nothing(tmp_path: Path, bundle: dict) -> None:
    pov = bundle["tract_poverty_2020"]
    # A 2023+ HUD file: every 2020 tract of the bundle's counties, each in one ZIP.
    frame = pd.DataFrame({"TRACT": pov["tract_2020"], "ZIP": "20850", "RES_RATIO": 1.0, "TOT_RATIO": 1.0})
    path = tmp_path / "TRACT_ZIP_122024.xlsx"
    frame.to_excel(path, index=False)
    assert reference(tmp_path).returncode == cli.EXIT_OK
    before = zip_demographics(tmp_path)
    run = reference(tmp_path, "--hud-zip-tract", str(path))
    assert run.returncode != cli.EXIT_OK
    assert "TRACT_ZIP_122024.xlsx uses 2020 census tracts" in run.stderr
    assert "the bundled census data uses 2010 tracts" in run.stderr and "2012 Q1 to 2022 Q4" in run.stderr
    pd.testing.assert_frame_equal(zip_demographics(tmp_path), before)  # the land-area weights still serve


def test_the_vintage_check_looks_only_at_the_bundled_counties(bundle: dict) -> None:
    t10, t20 = bundle["tracts"]["GEOID"], bundle["tract_poverty_2020"]["tract_2020"]
    only_2020 = sorted(set(t20) - set(t10))
    national_2010 = pd.Series([*t10, "01001020100", "06037980000"])  # other states: not ours to judge
    check_tract_vintage(national_2010, t10, t20, "TRACT_ZIP_122022.xlsx")
    with pytest.raises(TractVintageError, match=r"1 of its 526 tracts"):
        check_tract_vintage(pd.Series([*t10, only_2020[0]]), t10, t20, "mixed.csv")
    with pytest.raises(TractVintageError, match="no census tract of the bundled counties"):
        check_tract_vintage(pd.Series(["01001020100"]), t10, t20, "alabama.csv")
