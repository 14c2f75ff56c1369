-- mart_data_sources: where the served charges came from, so every page's provenance line reads a few
-- rows instead of grouping every charge (and a dashboard's local copy of the marts holds it). From
-- mart_charge_months, refreshed month by month by the same load; equal to data_sources_counts.sql
-- (what the dashboard groups directly on a warehouse whose marts are not built yet; compared by
-- tests/test_marts.py).
-- Grain: one row per source and, for file loads, per file name.
delete from mart_data_sources;

insert into mart_data_sources
select
    source,
    file_name,
    cast(sum(charges) as bigint) as charges,
    cast(sum(synthetic_charges) as bigint) as synthetic_charges
from mart_charge_months
group by source, file_name;
