"""The one definition of "stops per 1,000 residents per year", used by every page that shows a rate.

    rate = 1000 x stops / residents / years

* **stops**: the filtered stops *located in a county ZIP code* (a ZIP code with Montgomery County
  residents), from ``sql/dashboard/zip_map.sql``. Stops without usable coordinates, or placed in a
  ZIP code with no county residents, have no residents to be divided by, so they are left out of
  the numerator; the page says how many.
* **residents**: residents of the Montgomery County part of those ZIP codes (all county ZIP codes
  for the county figure, the chosen ones for an area): census ACS 2015-2019 5-year tract counts
  allocated to ZIP codes (``zip_map.sql``'s ``residents_in_county``; :data:`ACS_VINTAGE`).
* **years**: the days of the filtered date window on which the data has any stop (whatever the
  other filters), divided by 365.25: a window the data covers only in part is not counted as whole.

Overview, My ZIP and Map all compute the county figure with :func:`area_rate` over the same
``zip_map`` query, so they show the same number for the same filters
(``tests/test_rate_definition.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .i18n import fmt_num

ACS_VINTAGE = "ACS 2015-2019"
DAYS_PER_YEAR = 365.25
RATE_COLUMN = "per_1000_per_year"


@dataclass(frozen=True)
class Period:
    """The filtered date window and the days in it that the data covers."""

    first: date
    last: date
    covered_days: int

    @property
    def years(self) -> float:
        return self.covered_days / DAYS_PER_YEAR


@dataclass(frozen=True)
class Rate:
    stops: int          # located in the area's county ZIP codes
    residents: float    # of those ZIP codes' county part
    zip_count: int
    period: Period

    @property
    def value(self) -> float | None:
        """Stops per 1,000 residents per year; None without residents or covered days."""
        if self.residents <= 0 or self.period.covered_days <= 0:
            return None
        return per_1000_per_year(self.stops, self.residents, self.period.years)


def fmt_rate(value: Any) -> str:
    """A rate as every page prints it: 2 decimals under 10, 1 from 10 on; '–' for none."""
    if value is None or pd.isna(value):
        return "–"
    v = float(value)
    return fmt_num(v, 1) if v >= 10 else fmt_num(v, 2)


def per_1000_per_year(stops: float, residents: float, years: float) -> float:
    return 1000.0 * stops / residents / years


def period(covered: pd.DataFrame, first: date, last: date) -> Period:
    """``covered``: queries.covered_days() (one row per day with any stop); the window is inclusive."""
    days = pd.to_datetime(covered["date_of_stop"]).dt.date if not covered.empty else pd.Series([], dtype=object)
    n = int(((days >= first) & (days <= last)).sum()) if len(days) else 0
    return Period(first, last, n)


def _county_rows(zmap: pd.DataFrame) -> pd.DataFrame:
    return zmap[zmap["residents_in_county"].fillna(0) > 0]


def area_rate(zmap: pd.DataFrame, zips: Sequence[str], per: Period) -> Rate:
    """The rate of the county (``zips`` empty) or of the county part of ``zips``.

    ``zmap``: queries.zip_map() for the filters *without* the ZIP filter (one row per ZIP code)."""
    rows = _county_rows(zmap)
    if zips:
        rows = rows[rows["zip5"].isin(list(zips))]
    return Rate(int(rows["stops"].sum()), float(rows["residents_in_county"].sum()), len(rows), per)


def with_zip_rates(zmap: pd.DataFrame, per: Period) -> pd.DataFrame:
    """``zmap`` plus :data:`RATE_COLUMN` per ZIP code (NaN without county residents)."""
    out = zmap.copy()
    res = out["residents_in_county"].astype("float64")
    ok = res.fillna(0) > 0
    years = per.years
    out[RATE_COLUMN] = np.where(ok & (years > 0),
                                1000.0 * out["stops"].astype("float64") / res.where(ok) / (years or np.nan), np.nan)
    return out
