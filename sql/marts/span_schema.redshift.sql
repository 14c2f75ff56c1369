-- An all-time stop cube (see span_schema.sql), diststyle even: a query aggregates one cube and joins
-- nothing, so every slice scans its share. No sort key: there is no date to range over.
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
diststyle even;
