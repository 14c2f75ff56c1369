-- ZIP codes that have at least one stop (the dashboard adds the county's ZCTAs from the map bundle).
-- Grain: one row per ZIP code.
with final as (
    select distinct s.zip5
    from stops as s
    where s.zip5 is not null
)

select * from final
order by zip5
