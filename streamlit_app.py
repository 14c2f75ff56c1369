"""Router of the resident dashboard: `streamlit run streamlit_app.py`.

Sets the page config once, draws the shared sidebar filters (kept in the URL), shows a banner when
the data is stale, then runs the chosen page. Pages live in ``pages/`` and stay thin.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import filters, queries

st.set_page_config(
    page_title="Traffic stops in Montgomery County, MD",
    # A local image: an emoji or material-icon favicon would be fetched from a CDN.
    page_icon=str(Path(__file__).parent / "static" / "favicon.png"),
    layout="wide",
    initial_sidebar_state="auto",
)

# One line per page: (file, title, icon). The first one is the home page.
PAGES: list[tuple[str, str, str]] = [
    ("pages/overview.py", "Overview", ":material/dashboard:"),
    ("pages/map.py", "Map", ":material/map:"),
    ("pages/trends.py", "Trends", ":material/trending_up:"),
    ("pages/people.py", "People", ":material/groups:"),
    ("pages/disparities.py", "Disparities", ":material/balance:"),
    ("pages/data.py", "Data", ":material/table:"),
]

navigation = st.navigation(
    [st.Page(path, title=title, icon=icon, default=(i == 0)) for i, (path, title, icon) in enumerate(PAGES)]
)

if not queries.available():
    st.title("Traffic stops in Montgomery County, MD")
    st.info(
        "No data has been loaded yet. Run `python -m pipeline backfill --source sample` (the bundled "
        "sample) or `python -m pipeline run` (the county's portal), then reload this page.",
        icon=":material/hourglass_empty:",
    )
    st.stop()

fresh = queries.freshness()
if fresh.first_stop is None or fresh.last_stop is None:
    st.title("Traffic stops in Montgomery County, MD")
    st.info("The warehouse has no stops yet. Run the pipeline, then reload this page.")
    st.stop()

filters.sidebar(queries.zip_options(), (fresh.first_stop, fresh.last_stop))

with st.sidebar:
    st.divider()
    age = fresh.age_days()
    st.caption(
        f"Stops from {filters.fmt_date(fresh.first_stop)} to {filters.fmt_date(fresh.last_stop)}. "
        + (f"Last successful update {age:.1f} days ago." if age is not None else "No successful update logged.")
    )

if fresh.is_stale(queries.stale_after_days()):
    when = (f"{fresh.age_days():.1f} days ago" if fresh.age_days() is not None else "never")
    st.warning(
        f"The data may be out of date: the last successful update was {when} "
        f"(the pipeline runs daily; the newest stop is from {filters.fmt_date(fresh.last_stop)}).",
        icon=":material/schedule:",
    )
filters.show_notices()

navigation.run()
