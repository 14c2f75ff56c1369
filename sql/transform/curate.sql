-- Curated rows: landing rows enriched with district, ZIP5 and partition columns.
-- Grain: one row per charge. zip_lookup(latitude, longitude, zip5, zip_status) comes from geo.py.
-- A view, not a table: at 2M rows a second full copy would double the load's memory.
create or replace temp view curated as
with districts as (
    select
        *,
        -- NOTE: 2012-2016 exports write "3rd district, Silver Spring"; current ones "3rd District, ...".
        regexp_replace(subagency, '^(\d+(st|nd|rd|th)) district', '\1 District', 'i') as district
    from landing
),

final as (
    select
        d.*,
        z.zip5,
        coalesce(z.zip_status, 'no_coordinates') as zip_status,
        year(d.date_of_stop) as stop_year,
        month(d.date_of_stop) as stop_month
    from districts as d
    left join zip_lookup as z
        on d.latitude = z.latitude and d.longitude = z.longitude
)

select * from final
