-- What one merge changed, counted after the stops rebuild: one row. charge_changes and
-- stops_before come from merge_charges.sql; affected_stops holds every stop the batch touched.
-- Grain: one row per load. A stop is edited when it existed before and after and a charge of it
-- was added or edited.
with charges as (
    select
        sum(case when change = 'added' then 1 else 0 end) as charges_added,
        sum(case when change = 'edited' then 1 else 0 end) as charges_edited
    from charge_changes
),

stops_after as (
    select s.stop_id from stops as s join (select distinct stop_id from affected_stops) as a on a.stop_id = s.stop_id
),

changed_stops as (
    select new_stop_id as stop_id from charge_changes where change <> 'unchanged'
    union
    select old_stop_id from charge_changes where change = 'edited'
),

-- Joins, not `not in (subquery)`: PostgreSQL runs a subplan per row when the keys outgrow work_mem.
stop_diff as (
    select
        coalesce(a.stop_id, b.stop_id) as stop_id,
        case when b.stop_id is null then 'added' when a.stop_id is null then 'removed' else 'kept' end as diff
    from stops_after as a
    full outer join stops_before as b on b.stop_id = a.stop_id
),

stop_counts as (
    select
        sum(case when d.diff = 'added' then 1 else 0 end) as stops_added,
        sum(case when d.diff = 'removed' then 1 else 0 end) as stops_removed,
        sum(case when d.diff = 'kept' and c.stop_id is not null then 1 else 0 end) as stops_edited
    from stop_diff as d
    left join (select distinct stop_id from changed_stops) as c on c.stop_id = d.stop_id
),

final as (
    select
        coalesce(c.charges_added, 0) as charges_added,
        coalesce(c.charges_edited, 0) as charges_edited,
        coalesce(s.stops_added, 0) as stops_added,
        coalesce(s.stops_edited, 0) as stops_edited,
        coalesce(s.stops_removed, 0) as stops_removed
    from charges as c
    cross join stop_counts as s
)

select * from final
