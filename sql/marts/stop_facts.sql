(
    select
        s.date_of_stop,
        s.stop_year,
        s.stop_month,
        s.stop_weekday,
        s.stop_hour,
        s.race,
        s.gender,
        s.zip5,
        s.outcome,
        s.district,
        s.top_description,
        s.date_of_stop as first_day,
        s.date_of_stop as last_day,
        -- the day of the month as one bit (day d -> 2^(d-1)); cubes bit-or them (cube_schema.sql)
        cast(power(2, extract(day from s.date_of_stop) - 1) as integer) as day_mask,
        1 as stops,
        s.n_charges as charges,
        case when s.zip5 is null then 1 else 0 end as stops_without_zip,
        s.search_recorded,
        case when s.search_recorded = 1 then s.searched else 0 end as searched,
        case when s.search_recorded = 1 then s.arrested else 0 end as arrested,
        case when s.search_recorded = 1 and s.searched = 1 then s.contraband_found else 0 end as contraband_found
    from stops as s
)
