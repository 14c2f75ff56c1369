"""Small Streamlit helpers the pages share (tables behind charts, caveats, empty states)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from . import filters

PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True,
                                 "modeBarButtonsToRemove": ["select2d", "lasso2d"]}

RESIDENTS_CAVEAT = (
    "Per-capita rates divide stops by **residents** (ACS 2015-2019), not by drivers: many people "
    "stopped in a ZIP code live elsewhere, and residents who don't drive are counted. Compare places "
    "with care."
)


def header(title: str, what: str) -> None:
    """Page title, one line on what the page shows, and the current filters in plain words."""
    st.title(title)
    st.caption(what)
    st.markdown(f"**Showing:** {filters.describe(filters.current(), filters.bounds())}.")


def chart(fig: go.Figure, table: pd.DataFrame | None, table_label: str, key: str,
          column_config: dict[str, Any] | None = None) -> None:
    """A plotly chart followed by its numbers in an expander (the accessible alternative)."""
    st.plotly_chart(fig, config=PLOTLY_CONFIG, key=key, width="stretch")
    if table is not None:
        with st.expander(f"Table: {table_label}"):
            st.dataframe(table, hide_index=True, width="stretch", column_config=column_config)


def residents_caveat() -> None:
    st.caption(RESIDENTS_CAVEAT)


def no_stops() -> None:
    st.info(
        "No stops match these filters. Try a wider date range, or remove a ZIP code, district or "
        "driver filter in the sidebar (or press **Reset filters**).",
        icon=":material/search_off:",
    )
