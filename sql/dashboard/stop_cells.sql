(
    select
        s.date_of_stop,
        s.stop_year,
        s.stop_month,
        s.race,
        s.gender,
        s.zip5,
        s.outcome,
        s.district,
        cast(:cell as double precision) as cell_size,
        cast(floor(s.latitude / :cell) as integer) as cell_y,
        cast(floor(s.longitude / :cell) as integer) as cell_x,
        1 as stops
    from stops as s
    where s.zip_status in ('matched', 'nearest')
        and s.latitude is not null
        and s.longitude is not null
)
