-- Result tables of pipeline.analysis.run_all, rebuilt in full after each load.
-- Written in the subset DuckDB, PostgreSQL and Redshift share (no filter clauses, no arrays).
-- Column lists must match pipeline/analysis/*.py COLUMNS (tests/test_analysis_runner.py checks).

-- Grain: one row per view x geography (county or ZIP5) x stop year x race.
-- Stops per 1,000 residents with exact Poisson CIs; a benchmark, not proof (see docs/METHODS.md).
create table if not exists analysis_benchmark (
    view varchar(32) not null,
    geography varchar(16) not null,
    stop_year integer,
    race varchar(32),
    stops double precision,
    stops_known_race double precision,
    stops_share double precision,
    stops_share_low double precision,
    stops_share_high double precision,
    population double precision,
    population_moe double precision,
    population_share double precision,
    population_category varchar(128),
    acs_year integer,
    rate_per_1000 double precision,
    rate_low double precision,
    rate_high double precision,
    ratio_vs_white double precision,
    ratio_low double precision,
    ratio_high double precision,
    reliable boolean,
    flag varchar(1024),
    ran boolean not null,
    reason varchar(1024),
    computed_at timestamp
);

-- Grain: one row per level (district | county_weighted | county_pooled) x district x race.
-- Search and contraband hit rates over discretionary searches (not "Incident to Arrest").
create table if not exists analysis_outcome_test (
    level varchar(32) not null,
    district varchar(128),
    race varchar(32),
    stops double precision,
    searches double precision,
    discretionary_searches double precision,
    searches_reason_missing double precision,
    hits double precision,
    search_rate double precision,
    search_rate_low double precision,
    search_rate_high double precision,
    hit_rate double precision,
    hit_rate_low double precision,
    hit_rate_high double precision,
    ref_search_rate double precision,
    search_rate_diff double precision,
    search_rate_diff_low double precision,
    search_rate_diff_high double precision,
    ref_hit_rate double precision,
    hit_rate_diff double precision,
    hit_rate_diff_low double precision,
    hit_rate_diff_high double precision,
    n_districts_search integer,
    n_districts_hit integer,
    eligible_search boolean,
    eligible_hit boolean,
    min_searches integer,
    min_stops integer,
    flag varchar(1024),
    ran boolean not null,
    reason varchar(1024),
    computed_at timestamp
);

-- Grain: one row per model (time | time_district) of the veil-of-darkness test.
create table if not exists analysis_veil_of_darkness (
    model varchar(32) not null,
    ran boolean not null,
    reason varchar(1024),
    n double precision,
    n_black double precision,
    n_dark double precision,
    n_light double precision,
    n_twilight_dropped double precision,
    share_black_light double precision,
    share_black_light_low double precision,
    share_black_light_high double precision,
    share_black_dark double precision,
    share_black_dark_low double precision,
    share_black_dark_high double precision,
    coef_is_dark double precision,
    se double precision,
    ci_low double precision,
    ci_high double precision,
    odds_ratio double precision,
    or_low double precision,
    or_high double precision,
    p_value double precision,
    spline_df integer,
    n_districts integer,
    window_start varchar(8),
    window_end varchar(8),
    date_min date,
    date_max date,
    min_n integer,
    interpretation varchar(2048),
    computed_at timestamp
);

-- Grain: one row per caveat x stop year (stop_year null: all years, or a text-only caveat).
create table if not exists analysis_caveats (
    caveat varchar(64) not null,
    stop_year integer,
    numerator double precision,
    denominator double precision,
    share double precision,
    share_low double precision,
    share_high double precision,
    text varchar(2048),
    computed_at timestamp
);
