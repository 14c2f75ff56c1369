-- A full build of the stop cubes: every month that has stops (see cube_refresh.sql).
-- Grain: one row per (stop_year, stop_month).
delete from refresh_months;

insert into refresh_months
select distinct stop_year, stop_month
from stops;
