-- A stop cube (see cube_schema.sql for the grain and columns), with the indexes PostgreSQL needs:
-- a row store scans whole rows, so a filter on dates or ZIP codes (the Overview's period, My ZIP)
-- reads only its share of a large cube through an index instead of all of it.
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
    stops bigint not null,
    charges bigint not null,
    stops_without_zip bigint not null,
    search_recorded bigint not null,
    searched bigint not null,
    arrested bigint not null,
    contraband_found bigint not null
);

create index if not exists {{ cube }}_date on {{ cube }} (date_of_stop);

create index if not exists {{ cube }}_zip5 on {{ cube }} (zip5);
