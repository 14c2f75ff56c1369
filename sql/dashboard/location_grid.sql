-- Stop locations binned on a square grid (:cell degrees) for the map's density layer; cells with
-- fewer than :min_count stops are left out (small-count suppression), so no single stop is shown.
-- Grain: one row per grid cell with at least :min_count filtered stops located in the county.
-- The facts slot: the all-time grid cube (cells of the located stops, per cell size), or the
-- located stops binned here (stop_cells.sql); dashboard/queries.py location_grid() chooses.
with located as (
    select s.cell_y, s.cell_x, s.stops
    from {{ facts }} as s
    where {{ stop_filter }}
        and s.cell_size = :cell
),

final as (
    select cell_y, cell_x, cast(sum(stops) as bigint) as stops
    from located
    group by cell_y, cell_x
    having sum(stops) >= :min_count
)

select * from final
order by cell_y, cell_x
