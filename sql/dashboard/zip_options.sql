-- ZIP codes that have at least one stop (the dashboard adds the county's ZCTAs from the map bundle).
-- Grain: one row per ZIP code. the facts slot: a cube keeping zip5, or the stops themselves.
with final as (
    select distinct s.zip5
    from {{ facts }} as s
    where s.zip5 is not null
)

select * from final
order by zip5
