-- A fragment (two CTEs) that period_compare.sql and year_compare.sql put after their `with`:
-- covered = the days of periods A and B with at least one stop (any filter); matched = pairs of an
-- A day and a B day at the same place in their period (years from the period's start, month, day),
-- both covered. Grain of matched: one row per matched pair of days.
covered as (
    select distinct
        s.date_of_stop,
        case when s.date_of_stop <= cast(:a_to as date) then 'a' else 'b' end as period,
        s.stop_year - case when s.date_of_stop <= cast(:a_to as date) then :a_year else :b_year end as rel_year,
        s.stop_month,
        cast(extract(day from s.date_of_stop) as integer) as stop_day
    from stops as s
    where s.date_of_stop between cast(:a_from as date) and cast(:a_to as date)
        or s.date_of_stop between cast(:b_from as date) and cast(:b_to as date)
),

matched as (
    select a.date_of_stop as day_a, b.date_of_stop as day_b
    from covered as a
    inner join covered as b
        on a.rel_year = b.rel_year and a.stop_month = b.stop_month and a.stop_day = b.stop_day
    where a.period = 'a' and b.period = 'b'
)
