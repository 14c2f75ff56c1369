-- A stop cube (see cube_schema.sql for the grain and columns), with Redshift's physical design:
-- * diststyle even: a dashboard query aggregates one cube and joins nothing large, so spreading
--   rows evenly lets every slice scan its share (a distribution key would only skew the scan);
-- * compound sortkey (stop_year, stop_month, date_of_stop): date filters and the load's
--   month-by-month refresh (delete + insert of the months a load touched) read only the blocks of
--   those months, by zone maps.
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
)
diststyle even
compound sortkey (stop_year, stop_month, date_of_stop);
