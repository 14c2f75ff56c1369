-- Merge the staged batch (stg_charges) into moco_traffic_violations: delete+insert on row_id, in the
-- caller's transaction, so a rerun of the same batch replaces rows instead of duplicating them.
-- This file is the delete half; warehouse/insert_charges.sql inserts. A first load into an empty
-- warehouse skips it (warehouse/first_load.sql): there is nothing to replace.
-- Rows first loaded from a file (no Socrata :id) are also replaced by the same row from the API
-- (matched on content_key), so a file backfill followed by daily API loads converges.

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

delete from moco_traffic_violations
where row_id in (select row_id from stg_charges);

delete from moco_traffic_violations
where source in ('file', 'sample')
  and content_key in (select content_key from stg_charges where source = 'socrata');
