-- mart_provenance: what is served, so every page's header reads one row instead of counting the
-- charges. the counts slot is provenance_counts.sql, the one definition of those figures (the
-- dashboard counts with it directly on a warehouse whose marts are not built yet).
-- Grain: one row. sample_charges: charges from the bundled sample (a subset of real rows).
delete from mart_provenance;

insert into mart_provenance
select p.charges, p.sample_charges, p.stops, p.first_stop, p.last_stop
from {{ counts }} as p;
