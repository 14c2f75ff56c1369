-- The months the changed stops fall in, once, for every day and month cube's refresh.
-- Grain: one row per (stop_year, stop_month).
create temp table changed_months as
select distinct stop_year, stop_month
from stop_changes;
