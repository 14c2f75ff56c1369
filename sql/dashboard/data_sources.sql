-- Where the served charges came from, so the provenance line names the source truthfully.
-- Grain: one row per source ('socrata' = the portal API, 'file' = a CSV export, 'sample' = the bundled
-- sample) and, for file loads, per file name (an API load's pages are not named).
-- synthetic_charges: rows that bench/generate.py wrote. The generator marks every row it makes with a
-- SeqID whose first group is all zeros ('00000000-', a real random v4 UUID starts so with probability
-- 2^-32); see bench/generate.py, "Marking".
with charges as (
    select
        c.source,
        case when c.source = 'file' then c.source_file end as file_name,
        case when c.seq_id like '00000000-%' then 1 else 0 end as synthetic
    from moco_traffic_violations as c
),

final as (
    select
        source,
        file_name,
        cast(count(*) as bigint) as charges,
        cast(sum(synthetic) as bigint) as synthetic_charges
    from charges
    group by source, file_name
)

select * from final
order by charges desc, source, file_name
