-- Warehouse schema, written once in the SQL subset DuckDB, PostgreSQL and Redshift share.
-- Dialect overrides live beside this file as schema.<dialect>.sql only where unavoidable.

-- Grain: one row per charge (the source's row). Seed name kept so documented queries still run.
create table if not exists moco_traffic_violations (
    row_id varchar(80) not null,
    stop_id varchar(32) not null,
    content_key varchar(48) not null,
    source varchar(16) not null,
    source_updated_at timestamp,
    load_id varchar(40) not null,
    source_file varchar(256),
    raw_line bigint,
    seq_id varchar(64),
    date_of_stop date not null,
    time_of_stop time,
    agency varchar(16),
    subagency varchar(128),
    description varchar(1024),
    location varchar(512),
    latitude double precision,
    longitude double precision,
    accident boolean,
    belts boolean,
    personal_injury boolean,
    property_damage boolean,
    fatal boolean,
    commercial_license boolean,
    hazmat boolean,
    commercial_vehicle boolean,
    alcohol boolean,
    work_zone boolean,
    search_conducted boolean,
    search_disposition varchar(256),
    search_outcome varchar(64),
    search_reason varchar(256),
    search_reason_for_stop varchar(256),
    search_type varchar(64),
    search_arrest_reason varchar(256),
    state varchar(16),
    vehicle_type varchar(64),
    vehicle_year integer,
    make varchar(64),
    model varchar(64),
    color varchar(64),
    violation_type varchar(16),
    charge varchar(64),
    article varchar(64),
    contributed_to_accident boolean,
    race varchar(32),
    gender varchar(4),
    driver_city varchar(128),
    driver_state varchar(16),
    dl_state varchar(16),
    arrest_type varchar(64),
    district varchar(128),
    zip5 varchar(5),
    zip_status varchar(16),
    stop_year integer,
    stop_month integer,
    loaded_at timestamp not null
);

-- Grain: one row per stop (several charges share a stop_id). Rebuilt for affected stops each load.
create table if not exists stops (
    stop_id varchar(32) not null,
    seq_id varchar(64),
    date_of_stop date not null,
    time_of_stop time,
    stop_year integer,
    stop_month integer,
    stop_weekday integer,
    stop_hour integer,
    district varchar(128),
    zip5 varchar(5),
    zip_status varchar(16),
    latitude double precision,
    longitude double precision,
    race varchar(32),
    gender varchar(4),
    driver_city varchar(128),
    driver_state varchar(16),
    dl_state varchar(16),
    n_charges integer not null,
    n_citations integer not null,
    n_warnings integer not null,
    n_sero integer not null,
    outcome varchar(16) not null,
    search_recorded integer not null,
    searched integer not null,
    search_reason varchar(256),
    search_type varchar(64),
    contraband_found integer not null,
    arrested integer not null,
    accident integer not null,
    alcohol integer not null,
    top_charge varchar(64),
    top_description varchar(1024)
);

-- Grain: one row per ZCTA and tract, with the allocation weight (land-area share or HUD RES_RATIO).
create table if not exists zip_tract (
    zip varchar(5) not null,
    tract varchar(11) not null,
    weight double precision not null,
    method varchar(32) not null,
    covered_share double precision
);

-- Grain: one row per 2010 census tract; seed-compatible names (TractId, TotalPop, Income, ...).
create table if not exists census_tract (
    tractid varchar(11) not null,
    totalpop double precision,
    income double precision,
    poverty double precision,
    unemployment double precision,
    white double precision,
    black double precision,
    asian double precision,
    native double precision,
    hispanic double precision
);

-- Grain: one row per ZCTA; counts allocated from tracts by weight, rates recomputed from them.
create table if not exists zip_demographics (
    zip5 varchar(5) not null,
    residents double precision,
    pop_white_alone double precision,
    pop_black_alone double precision,
    pop_asian_alone double precision,
    pop_native_alone double precision,
    pop_hispanic double precision,
    poverty_count double precision,
    poverty_universe double precision,
    poverty_rate double precision,
    income_weighted_mean_of_tract_medians double precision,
    zip_median_income_2010 double precision,
    unemployment_rate_approx double precision,
    land_area_sqmi double precision,
    density_per_sqmi double precision,
    tract_coverage double precision,
    acs_year integer,
    weight_method varchar(32),
    notes varchar(1024)
);

-- Grain: one row per rejected source record of any load (the lake keeps the full record).
create table if not exists quarantine_rows (
    load_id varchar(40) not null,
    source_file varchar(256),
    raw_line bigint,
    reason varchar(512),
    row_id varchar(80),
    raw_text varchar(2048)
);

-- Grain: one row per pipeline run (the run log).
create table if not exists pipeline_runs (
    run_id varchar(40) not null,
    command varchar(32) not null,
    source varchar(16),
    started_at timestamp not null,
    finished_at timestamp,
    status varchar(16) not null,
    rows_raw bigint,
    rows_landed bigint,
    rows_quarantined bigint,
    rows_curated bigint,
    rows_inserted bigint,
    rows_replaced bigint,
    warehouse_rows bigint,
    warehouse_stops bigint,
    rows_with_zip bigint,
    max_date_of_stop date,
    watermark timestamp,
    null_rates varchar(8192),
    message varchar(4096),
    -- What the load changed, in plain counts: new row ids, row ids whose content really changed
    -- (a row re-read unchanged in the lookback window is neither), row ids removed; same for stops.
    charges_added bigint,
    charges_edited bigint,
    charges_removed bigint,
    stops_added bigint,
    stops_edited bigint,
    stops_removed bigint,
    -- The curated Delta table version this run committed (success rows only).
    lake_version bigint,
    -- Value rules: text values clipped to the column widths; rows read with an older :updated_at
    -- than the one the warehouse held (re-stamped backwards at the portal).
    values_clipped bigint,
    rows_restamped_older bigint
);

-- Grain: one row per key (e.g. the Socrata :updated_at watermark).
create table if not exists pipeline_state (
    state_key varchar(64) not null,
    state_value varchar(256),
    updated_at timestamp not null
);

-- Grain: one row: the fencing token of the run that holds the load lock (PostgreSQL, Redshift).
-- A run writes it when it takes the lock; each of its commits checks it first (sql/warehouse/fence_*.sql).
create table if not exists pipeline_lock_fence (
    token varchar(256) not null,
    taken_at timestamp not null,
    checked_at timestamp
);

-- Grain: one row per data-quality measure (rebuilt by marts/refresh.sql).
create table if not exists mart_data_quality (
    measure varchar(64) not null,
    value bigint,
    denominator bigint
);

-- Grain: one row: what is served (rebuilt by marts/refresh.sql; the dashboard's header reads it).
create table if not exists mart_provenance (
    charges bigint not null,
    sample_charges bigint not null,
    stops bigint not null,
    first_stop date,
    last_stop date
);

-- Grain: one row per source and, for file loads, per file name (rebuilt by marts/data_sources.sql;
-- the dashboard's provenance line reads it).
create table if not exists mart_data_sources (
    source varchar(16) not null,
    file_name varchar(256),
    charges bigint not null,
    synthetic_charges bigint not null
);
