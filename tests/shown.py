"""Read a dashboard table back as numbers the way a reader sees it (cells of columns with gaps are text)."""

from __future__ import annotations

import pandas as pd


def shown_numbers(values: pd.Series) -> pd.Series:
    """'' (withheld) -> NaN, '1,234' -> 1234, '18.5%' -> 0.185; numbers stay numbers (English locale)."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    text = values.astype(str).str.replace(",", "", regex=False).str.strip()
    percent = text.str.endswith("%")
    out = pd.to_numeric(text.str.rstrip("%"), errors="coerce")
    return out.where(~percent, out / 100)
