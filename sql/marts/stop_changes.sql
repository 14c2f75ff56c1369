-- The stops a load changed, signed: -1 as they were, +1 as they are (filled by marts/stops.sql; read
-- by cube_refresh.sql and span_refresh.sql). Grain: one row per stop version.
create temp table if not exists stop_changes (
    sign integer,
    stop_year integer,
    stop_month integer,
    stop_weekday integer,
    stop_hour integer,
    top_description varchar(1024),
    latitude double precision,
    longitude double precision,
    zip_status varchar(16),
    race varchar(32),
    gender varchar(4),
    zip5 varchar(5),
    outcome varchar(16),
    district varchar(128),
    n_charges integer
);
