-- mart_provenance: what is served, so every page's header reads one row instead of counting the
-- charges. From the month-by-month aggregates the load has just refreshed: the charges from
-- mart_charge_months, the stops from cube_month. They equal provenance_counts.sql (what the
-- dashboard counts directly on a warehouse whose marts are not built yet; tests/test_marts.py
-- compares the two on DuckDB and PostgreSQL).
-- Grain: one row. sample_charges: charges from the bundled sample (a subset of real rows).
delete from mart_provenance;

insert into mart_provenance
with charges as (
    select
        cast(coalesce(sum(charges), 0) as bigint) as charges,
        cast(coalesce(sum(case when source = 'sample' then charges else 0 end), 0) as bigint) as sample_charges,
        min(first_stop) as first_stop,
        max(last_stop) as last_stop
    from mart_charge_months
),

stop_counts as (
    select cast(coalesce(sum(stops), 0) as bigint) as stops from cube_month
)

select c.charges, c.sample_charges, s.stops, c.first_stop, c.last_stop
from charges as c
cross join stop_counts as s;
