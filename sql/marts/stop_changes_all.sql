-- A full build of the stop cubes: every stop as it is, signed +1, as if the whole table were new.
-- Grain: one row per stop.
delete from stop_changes;

insert into stop_changes
select
    1, s.stop_year, s.stop_month, s.stop_weekday, s.stop_hour, s.top_description, s.latitude, s.longitude,
    s.zip_status, s.race, s.gender, s.zip5, s.outcome, s.district, s.n_charges
from stops as s;
