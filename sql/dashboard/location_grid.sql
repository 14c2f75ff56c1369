-- Stop locations binned on a square grid (:cell degrees) for the map's density layer; cells with
-- fewer than :min_count stops are left out (small-count suppression), so no single stop is shown.
-- Grain: one row per grid cell with at least :min_count filtered stops located in the county.
with located as (
    select
        cast(floor(s.latitude / :cell) as integer) as cell_y,
        cast(floor(s.longitude / :cell) as integer) as cell_x
    from stops as s
    where {{ stop_filter }}
        and s.zip_status in ('matched', 'nearest')
        and s.latitude is not null
        and s.longitude is not null
),

final as (
    select cell_y, cell_x, cast(count(*) as bigint) as stops
    from located
    group by cell_y, cell_x
    having count(*) >= :min_count
)

select * from final
order by cell_y, cell_x
