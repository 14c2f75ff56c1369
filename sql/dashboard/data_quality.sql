-- Data-quality measures of the last load (mart_data_quality). Grain: one row per measure.
with final as (
    select measure, value, denominator
    from mart_data_quality
)

select * from final
order by measure
