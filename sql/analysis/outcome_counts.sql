-- Search counts for the outcome (hit-rate) test, over stops whose row carries search fields.
-- Grain: one row per district x race.
-- Discretionary searches exclude "Incident to Arrest" (a search that follows an arrest is not a
-- judgement about suspicion); searches with no recorded reason are kept and counted separately.
-- A hit is a discretionary search whose disposition mentions contraband.
with recorded as (
    select
        district,
        race,
        searched,
        contraband_found,
        case when searched = 1 and search_reason is null then 1 else 0 end as reason_missing,
        case
            when searched = 1 and (search_reason is null or lower(search_reason) <> 'incident to arrest') then 1
            else 0
        end as discretionary
    from stops
    where search_recorded = 1
),

final as (
    select
        district,
        race,
        count(*) as stops,
        sum(searched) as searches,
        sum(discretionary) as discretionary_searches,
        sum(reason_missing) as searches_reason_missing,
        sum(case when discretionary = 1 and contraband_found = 1 then 1 else 0 end) as hits
    from recorded
    group by district, race
)

select * from final
