-- Where the served charges came from, counted from every charge: filled into
-- dashboard/data_sources.sql on a warehouse whose marts are not built yet (the load builds
-- mart_data_sources from mart_charge_months instead; tests/test_marts.py proves them equal).
-- Grain: one row per source ('socrata' = the portal API, 'file' = a CSV export, 'sample' = the bundled sample) and, for file loads, per file name (an API
-- load's pages are not named). synthetic_charges: rows that bench/generate.py wrote. The generator
-- marks every row it makes with a SeqID whose first group is all zeros ('00000000-', a real random
-- v4 UUID starts so with probability 2^-32); see bench/generate.py, "Marking".
(
    select
        c.source,
        case when c.source = 'file' then c.source_file end as file_name,
        cast(count(*) as bigint) as charges,
        cast(sum(case when c.seq_id like '00000000-%' then 1 else 0 end) as bigint) as synthetic_charges
    from moco_traffic_violations as c
    group by c.source, case when c.source = 'file' then c.source_file end
)
