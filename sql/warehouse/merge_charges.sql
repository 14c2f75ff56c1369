-- Merge the staged batch (stg_charges) into moco_traffic_violations: delete+insert on row_id, in the
-- caller's transaction, so a rerun of the same batch replaces rows instead of duplicating them.
-- This file is the delete half; warehouse/insert_charges.sql inserts. A first load into an empty
-- warehouse skips it (warehouse/first_load.sql): there is nothing to replace.
-- Rows first loaded from a file (no Socrata :id) are also replaced by the same row from the API
-- (matched on content_key), so a file backfill followed by daily API loads converges.

-- What the batch changes, for the run log (warehouse/changes.sql counts it after the rebuild).
-- A charge is `edited` only when its content or stop really changed: rows re-read unchanged in the
-- lookback window, or a file row replaced by the same row from the API, are `unchanged`.
create temp table replaced_file_rows as
select distinct s.row_id
from stg_charges as s
join moco_traffic_violations as t on t.content_key = s.content_key
where s.source = 'socrata' and t.source in ('file', 'sample');

create temp table charge_changes as
select
    s.stop_id as new_stop_id,
    t.stop_id as old_stop_id,
    case
        when t.row_id is not null and t.content_key = s.content_key and t.stop_id = s.stop_id then 'unchanged'
        when t.row_id is not null then 'edited'
        when r.row_id is not null then 'unchanged'
        else 'added'
    end as change
from stg_charges as s
left join moco_traffic_violations as t on t.row_id = s.row_id
left join replaced_file_rows as r on r.row_id = s.row_id;

-- Stops whose charges change in this batch, before and after the edit (an edit can move a charge).
create temp table affected_stops as
select distinct stop_id from stg_charges
union
select distinct t.stop_id
from moco_traffic_violations as t
join stg_charges as s on t.row_id = s.row_id;

insert into affected_stops
select distinct t.stop_id
from moco_traffic_violations as t
join stg_charges as s on t.content_key = s.content_key
where s.source = 'socrata' and t.source in ('file', 'sample');

create temp table stops_before as
select s.stop_id from stops as s join (select distinct stop_id from affected_stops) as a on a.stop_id = s.stop_id;

delete from moco_traffic_violations
where row_id in (select row_id from stg_charges);

delete from moco_traffic_violations
where source in ('file', 'sample')
  and content_key in (select content_key from stg_charges where source = 'socrata');
analyze affected_stops;
