-- mart_charge_months: the charges' measures behind the small marts (mart_data_quality,
-- mart_provenance, mart_data_sources) and the load's count checks, per month of stop and per source
-- and file. Kept month by month like the stop cubes (charge_months_refresh.sql): a daily load
-- recounts the charges of the months it touched instead of every charge (on a 1M-charge PostgreSQL
-- warehouse the three marts' full recounts took ~2.5 s of a 6.5 s daily run).
-- Grain: one row per (stop_year, stop_month, source, file_name) with at least one charge.
-- file_name: the source file of a file load; null for the API and the bundled sample (as mart_data_sources).
create table if not exists mart_charge_months (
    stop_year integer not null,
    stop_month integer not null,
    source varchar(16) not null,
    file_name varchar(256),
    charges bigint not null,
    synthetic_charges bigint not null,
    charges_without_location bigint not null,
    charges_without_zip bigint not null,
    charges_outside_county bigint not null,
    charges_race_unknown_or_other bigint not null,
    charges_gender_unknown bigint not null,
    first_stop date not null,
    last_stop date not null
);
