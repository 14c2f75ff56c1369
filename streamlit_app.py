"""Router of the resident dashboard: `streamlit run streamlit_app.py`.

Sets the page config once, picks the language (``?lang=es``), says where the data comes from,
draws the shared sidebar filters (kept in the URL), shows a banner when the data is stale, then
runs the chosen page. Pages live in ``pages/`` and stay thin; ``client.showSidebarNavigation = false``
(.streamlit/config.toml) keeps Streamlit from painting its auto-discovered menu of that folder before
``st.navigation`` draws ours.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

from dashboard import browser, filters, i18n, queries, routing, ui
from dashboard.i18n import _, days_since, fmt_ago, fmt_date, fmt_datetime, fmt_int

K_LANG = i18n.K_LANG
# One process serves every reader: page scripts run in threads beside the event loop that serves
# Streamlit's JavaScript. A script holding the GIL made each of the loop's file reads (each a hop to
# a worker thread) wait up to the default 5 ms switch interval, so a first visit's chunks, the first
# metric's among them, arrived slowly while its own page script ran (BENCHMARKS.md, h23-firstvisit).
SWITCH_INTERVAL_S = 0.0005
sys.setswitchinterval(SWITCH_INTERVAL_S)

if K_LANG not in st.session_state:  # a session's first run: the language comes from the link
    st.session_state[K_LANG] = i18n.set_lang(st.query_params.get("lang"))
lang = i18n.set_lang(st.session_state[K_LANG])

st.set_page_config(
    page_title=_("Traffic stops in Montgomery County, MD"),
    # A local image: an emoji or material-icon favicon would be fetched from a CDN.
    page_icon=str(Path(__file__).parent / "static" / "favicon.png"),
    layout="wide",
    initial_sidebar_state="auto",
)
st.html(f"<style>{(Path(__file__).parent / 'static' / 'dashboard.css').read_text(encoding='utf-8')}</style>")

# The home page lives at "/" (Streamlit gives the default page no address of its own); a hidden twin
# answers its own address, /overview, instead of "Page not found".
PAGES = routing.PAGES
pages = [st.Page(p.file, title=_(p.title), icon=p.icon, url_path="" if i == 0 else p.url, default=(i == 0))
         for i, p in enumerate(PAGES)]
home_alias = st.Page(PAGES[0].file, title=_(PAGES[0].title), icon=PAGES[0].icon, url_path=PAGES[0].url, visibility="hidden")
# Our own menu of page links: with client.showSidebarNavigation off (so that the auto-discovered
# pages/ menu never paints), Streamlit draws no menu for st.navigation either.
navigation = st.navigation([*pages, home_alias], position="hidden")

with st.sidebar:
    with st.container(key="page_menu"):
        for page in pages:
            st.page_link(page)
    st.segmented_control(_("Language / Idioma"), list(i18n.LANGS), key=K_LANG, format_func=i18n.LANGS.get,
                         selection_mode="single", required=True)
browser.helper()  # after the menu, so that the first paint shows the menu at once

status = queries.state()
if status != "ok":
    st.title(_("Traffic stops in Montgomery County, MD"))
    if status == "unreachable":
        st.error(_("The data warehouse can't be reached right now, so no numbers can be shown. Please try "
                   "again later; if you run this dashboard, check that the warehouse is up and that "
                   "PIPELINE_WAREHOUSE points to it."), icon=":material/cloud_off:")
    else:
        st.info(_("No data has been loaded yet. Run `python -m pipeline backfill --source sample` (the bundled "
                  "sample) or `python -m pipeline run` (the county's portal), then reload this page."),
                icon=":material/hourglass_empty:")
    st.stop()

prov = queries.provenance()
if prov.first_stop is None or prov.last_stop is None:
    st.title(_("Traffic stops in Montgomery County, MD"))
    st.info(_("The warehouse has no stops yet. Run the pipeline, then reload this page."))
    st.stop()

# Where the numbers come from, on every page (ui.header shows it under the title).
age = days_since(prov.last_success_at)
source, synthetic = ui.source_text(queries.data_sources())
loaded = (_("last successful load {when} ({ago})").format(when=fmt_datetime(prov.last_success_at), ago=fmt_ago(age))
          if age is not None else _("no successful load logged"))
# Which committed warehouse version these numbers are (a server warehouse: this process's copy of it).
digest, local = queries.served_version_label()
version = (_("Warehouse version {digest}, read from this server's copy of it.") if local
           else _("Warehouse version {digest}.")).format(digest=digest)
st.session_state[ui.K_PROVENANCE] = _("Data: {source}; {stops} stops from {first} to {last}; {loaded}.").format(
    source=source, stops=fmt_int(prov.stops), first=fmt_date(prov.first_stop), last=fmt_date(prov.last_stop),
    loaded=loaded) + " " + version
st.session_state["is_sample"] = prov.is_sample
st.session_state[ui.K_SYNTHETIC] = synthetic

# Pages computed over all loaded stops: the sidebar says so instead of showing filters that change nothing.
UNFILTERED = {"disparities", "changes"}
zip_options, data_bounds = queries.zip_options(), (prov.first_stop, prov.last_stop)
filters.settle(zip_options, data_bounds)
# The filters' place in the sidebar is kept here, above the page's own sidebar items, and their widgets
# are drawn after the page: the browser then fetches the page's elements' JavaScript (the first number's
# among them) before the ~25 chunks of the sidebar's widgets (BENCHMARKS.md, h23-firstvisit).
filters_box = st.sidebar.container()

if prov.is_stale(queries.stale_after_days()):
    when = fmt_ago(age)
    st.warning(
        _("The data may be out of date: the last successful update was {when} (the pipeline is meant to run "
          "daily; the newest stop is from {last}).").format(when=when, last=fmt_date(prov.last_stop)),
        icon=":material/schedule:",
    )
filters.show_notices()

try:
    with routing.routed():
        navigation.run()
finally:  # also when a page stops early (st.stop): a run that drew no filter widgets would forget their values
    filters.draw(filters_box, zip_options, data_bounds, applies=navigation.url_path not in UNFILTERED)
