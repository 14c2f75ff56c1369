-- A stop cube: stops pre-aggregated by a time grain and some of the filter dimensions, so the
-- dashboard's queries scan thousands of rows instead of every stop (pipeline/marts.py lists them).
-- Grain: one row per ({{ cube }}'s time grain x its dimensions) with at least one stop. A dimension
-- the cube does not keep is null in every row; the dashboard only reads a cube that keeps every
-- column its filters and groups use (dashboard/queries.py facts()).
-- date_of_stop: the day (day cubes) or the month's first day (month cubes).
-- first_day, last_day, day_mask: the first and last day with a stop in the row, and those days as
-- bits (bit d-1 set for day d of the month), so a month cube answers "first / last stop" and
-- "days with stops" (the bit-or of a month's rows, counted) without a day cube (sql/dashboard/totals.sql).
-- table_options: Redshift's physical design (pipeline/marts.py REDSHIFT_OPTIONS), empty elsewhere.
create table if not exists {{ cube }} (
    date_of_stop date not null,
    stop_year integer not null,
    stop_month integer not null,
    stop_weekday integer,
    stop_hour integer,
    race varchar(32),
    gender varchar(4),
    zip5 varchar(5),
    outcome varchar(16),
    district varchar(128),
    top_description varchar(1024),
    first_day date not null,
    last_day date not null,
    day_mask integer not null,
    stops bigint not null,
    charges bigint not null,
    stops_without_zip bigint not null,
    search_recorded bigint not null,
    searched bigint not null,
    arrested bigint not null,
    contraband_found bigint not null
)
{{ table_options }};
