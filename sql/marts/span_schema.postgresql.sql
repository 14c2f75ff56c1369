-- An all-time stop cube (see span_schema.sql), with an index on ZIP code for My ZIP (PostgreSQL
-- scans whole rows, so a ZIP's share is read through the index).
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
);

create index if not exists {{ cube }}_zip5 on {{ cube }} (zip5);
