-- The months the changed stops fall in (see changed_months.sql). PostgreSQL does not analyze temp
-- tables by itself: without statistics it would plan a daily load's few months like thousands and
-- scan every stop for each cube instead of reading those months through stops_month.
-- stop_changes too (complete once the stops are rebuilt): unanalyzed it is planned as ~900 rows, so
-- span_refresh.sql groups a first load's 544k stops by sorting them on eleven keys, text compared
-- through the collation (cube_all_grid: 9.5 s; with the statistics a hash aggregate, 1.1 s, at load 7).
create temp table changed_months as
select distinct stop_year, stop_month
from stop_changes;

analyze changed_months;

analyze stop_changes;
