-- First load into an empty warehouse: no row to replace, so no delete half of the merge; every stop
-- is built (marts/stops.sql with :all_stops). affected_stops exists, empty, for that file's delete.
create temp table affected_stops (stop_id varchar(64));
