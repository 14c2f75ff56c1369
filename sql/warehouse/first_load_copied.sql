-- A first load whose batch was copied straight into the empty moco_traffic_violations (PostgreSQL:
-- warehouse/base.first_load_copies): no staging table and no insert ... select. The charges table
-- holds exactly the batch, so stg_charges is a view of its keys (merge_quarantine.sql reads the
-- batch's files and row ids there); affected_stops exists, empty, for marts/stops.sql's delete, as
-- in first_load.sql.
create temp view stg_charges as
select row_id, source, source_file
from moco_traffic_violations;

create temp table affected_stops (stop_id varchar(64));
