-- Two periods compared only over the days both cover. Grain: one row.
-- A day is "covered" when the data holds at least one stop that day (any filter); period A's day
-- and period B's day match when they sit at the same place in their period (years from the
-- period's start year, month, day). So a gap in either period (a partial year, a missing month)
-- removes the same days from both sides, and a change is never computed over unequal coverage.
-- stops_a/stops_b: the filtered stops on matched days; all_a/all_b: every stop on matched days
-- (the recording density the page checks); covered_a/covered_b: covered days of each period.
with {{ matched_days }},

stops_on_matched as (
    select
        case when m.day_a is not null then 'a' else 'b' end as period,
        case when {{ stop_filter }} then 1 else 0 end as in_filter
    from stops as s
    left join matched as m on m.day_a = s.date_of_stop
    left join matched as mb on mb.day_b = s.date_of_stop
    where m.day_a is not null or mb.day_b is not null
),

counts as (
    select
        cast(sum(case when period = 'a' then in_filter else 0 end) as bigint) as stops_a,
        cast(sum(case when period = 'b' then in_filter else 0 end) as bigint) as stops_b,
        cast(sum(case when period = 'a' then 1 else 0 end) as bigint) as all_a,
        cast(sum(case when period = 'b' then 1 else 0 end) as bigint) as all_b
    from stops_on_matched
),

days as (
    select
        cast(sum(case when period = 'a' then 1 else 0 end) as bigint) as covered_a,
        cast(sum(case when period = 'b' then 1 else 0 end) as bigint) as covered_b
    from covered
),

matched_days as (
    select cast(count(*) as bigint) as matched_days, min(day_b) as first_b, max(day_b) as last_b,
        min(day_a) as first_a, max(day_a) as last_a
    from matched
),

final as (
    select
        coalesce(c.stops_a, 0) as stops_a, coalesce(c.stops_b, 0) as stops_b,
        coalesce(c.all_a, 0) as all_a, coalesce(c.all_b, 0) as all_b,
        coalesce(d.covered_a, 0) as covered_a, coalesce(d.covered_b, 0) as covered_b,
        m.matched_days, m.first_a, m.last_a, m.first_b, m.last_b
    from counts as c cross join days as d cross join matched_days as m
)

select * from final
