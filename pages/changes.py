"""What changed: what each successful load added, corrected and removed, in plain words."""

import pandas as pd
import streamlit as st

from dashboard import labels, queries, routing, tables, ui
from dashboard.i18n import _, fmt_datetime

routing.require_router()

k = queries.small_count()
ui.header(_("What changed"),
          _("Each successful load of the county's data: how many stops and charges it added, corrected and removed."), filtered=False)

log = queries.change_log(30)
if log.empty:
    st.info(_("No successful load is logged yet."))
    routing.stop_page()

COUNTS = ["stops_added", "stops_edited", "stops_removed", "charges_added", "charges_edited", "charges_removed"]


def _n(value) -> str:  # noqa: ANN001
    return _("not recorded") if value is None or pd.isna(value) else tables.count_text(int(value), k)


def sentence(row: pd.Series) -> str:
    """'Added 1,234 stops (2,345 charges), corrected 12 stops (15 charges), removed 0 stops (0 charges).'"""
    if all(row[c] is None or pd.isna(row[c]) for c in COUNTS):
        return _("This load's changes were not recorded (it ran before the dashboard counted them).")
    return _("Added {sa} stops ({ca} charges), corrected {se} stops ({ce} charges), removed {sr} stops "
             "({cr} charges).").format(sa=_n(row["stops_added"]), ca=_n(row["charges_added"]),
                                       se=_n(row["stops_edited"]), ce=_n(row["charges_edited"]),
                                       sr=_n(row["stops_removed"]), cr=_n(row["charges_removed"]))


for row in log.head(10).itertuples(index=False):
    r = pd.Series(row._asdict())
    st.markdown("**" + fmt_datetime(pd.Timestamp(r["finished_at"])) + "** — " + sentence(r))

st.caption(_("Corrected = a stop or charge the county republished with different content (a row re-read without "
             "changes is not counted). Removed = no longer published by the county. Counts of fewer than {k} are "
             "shown as \"fewer than {k}\". Only successful loads are listed: a failed load changes nothing that is "
             "served.").format(k=k))

with st.expander(_("Table: every successful load")):
    shown = log.assign(
        finished_at=log["finished_at"].map(lambda v: fmt_datetime(pd.Timestamp(v))),
        command=log["command"].map(labels.run_command),
        source=log["source"].map(labels.run_source),
        **{c: [_n(v) for v in log[c]] for c in COUNTS},
    )
    ui.table(shown, {"finished_at": _("Finished"), "command": _("Command"), "source": _("Source"),
                     "stops_added": _("Stops added"), "stops_edited": _("Stops corrected"),
                     "stops_removed": _("Stops removed"), "charges_added": _("Charges added"),
                     "charges_edited": _("Charges corrected"), "charges_removed": _("Charges removed")},
             key="changes_table")
