-- What happened after the stop, by the driver's race as recorded by the officer.
-- Grain: one row per race.
-- Outcome = the stop's most serious charge (Citation > SERO > Warning), from every stop.
-- Search, arrest and contraband come from the search fields, which the source has only for some
-- stops (exports from about 2019 on): their denominator is stops_search_recorded, never all stops.
-- arrested = search outcome "Arrest"; hit rate denominator = stops searched. In the facts slot (a stop
-- cube keeping race and outcome, or the stops themselves) searched, arrested and contraband_found
-- already count only stops with search fields recorded (and contraband only searched stops).
with filtered as (
    select
        coalesce(s.race, 'OTHER') as race,
        s.outcome,
        s.stops,
        s.search_recorded,
        s.searched,
        s.arrested,
        s.contraband_found
    from {{ facts }} as s
    where {{ stop_filter }}
),

final as (
    select
        race,
        cast(sum(stops) as bigint) as stops,
        cast(sum(case when outcome = 'Warning' then stops else 0 end) as bigint) as warnings,
        cast(sum(case when outcome = 'SERO' then stops else 0 end) as bigint) as seros,
        cast(sum(case when outcome = 'Citation' then stops else 0 end) as bigint) as citations,
        cast(sum(search_recorded) as bigint) as stops_search_recorded,
        cast(sum(searched) as bigint) as searched,
        cast(sum(arrested) as bigint) as arrested,
        cast(sum(contraband_found) as bigint) as contraband_found
    from filtered
    group by race
)

select * from final
order by race
