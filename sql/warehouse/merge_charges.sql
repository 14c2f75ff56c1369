-- Merge the staged batch (stg_charges) into moco_traffic_violations: delete+insert on row_id, in the
-- caller's transaction, so a rerun of the same batch replaces rows instead of duplicating them.
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

insert into moco_traffic_violations (row_id, stop_id, content_key, source, source_updated_at, load_id, source_file, raw_line, seq_id, date_of_stop, time_of_stop, agency, subagency, description, location, latitude, longitude, accident, belts, personal_injury, property_damage, fatal, commercial_license, hazmat, commercial_vehicle, alcohol, work_zone, search_conducted, search_disposition, search_outcome, search_reason, search_reason_for_stop, search_type, search_arrest_reason, state, vehicle_type, vehicle_year, make, model, color, violation_type, charge, article, contributed_to_accident, race, gender, driver_city, driver_state, dl_state, arrest_type, district, zip5, zip_status, stop_year, stop_month, loaded_at)
select row_id, stop_id, content_key, source, source_updated_at, load_id, source_file, raw_line, seq_id, date_of_stop, time_of_stop, agency, subagency, description, location, latitude, longitude, accident, belts, personal_injury, property_damage, fatal, commercial_license, hazmat, commercial_vehicle, alcohol, work_zone, search_conducted, search_disposition, search_outcome, search_reason, search_reason_for_stop, search_type, search_arrest_reason, state, vehicle_type, vehicle_year, make, model, color, violation_type, charge, article, contributed_to_accident, race, gender, driver_city, driver_state, dl_state, arrest_type, district, zip5, zip_status, stop_year, stop_month, cast(:loaded_at as timestamp)
from stg_charges;
