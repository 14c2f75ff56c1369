-- An all-time stop cube: stops of every date aggregated by columns no month cube could keep small
-- (map cells, weekday x hour, the most serious charge) and the filter dimensions. The dashboard
-- reads it only when no date filter applies (dashboard/queries.py facts()).
-- Grain: one row per (kept columns) with at least one stop; columns the cube does not keep are null.
-- cell_size, cell_y, cell_x: the map grid (floor(latitude / cell_size), floor(longitude / cell_size))
-- for the two cell sizes the dashboard draws, located stops only.
-- table_options: Redshift's physical design (pipeline/marts.py REDSHIFT_OPTIONS), empty elsewhere.
create table if not exists {{ cube }} (
    cell_size double precision,
    cell_y integer,
    cell_x integer,
    stop_weekday integer,
    stop_hour integer,
    top_description varchar(1024),
    race varchar(32),
    gender varchar(4),
    zip5 varchar(5),
    outcome varchar(16),
    district varchar(128),
    stops bigint not null,
    charges bigint not null
)
{{ table_options }};
