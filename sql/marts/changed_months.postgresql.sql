-- The months the changed stops fall in (see changed_months.sql). PostgreSQL does not analyze temp
-- tables by itself: without statistics it would plan a daily load's few months like thousands and
-- scan every stop for each cube instead of reading those months through stops_month.
create temp table changed_months as
select distinct stop_year, stop_month
from stop_changes;

analyze changed_months;
