-- Which sources the warehouse's charges came from (the bundled sample is not the full data).
-- Grain: one row per source.
with final as (
    select source, count(*) as charges, min(date_of_stop) as first_stop, max(date_of_stop) as last_stop
    from moco_traffic_violations
    group by source
)

select * from final
