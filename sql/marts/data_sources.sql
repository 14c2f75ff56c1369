-- mart_data_sources: where the served charges came from, so every page's provenance line reads a few
-- rows instead of grouping every charge (and a dashboard's local copy of the marts holds it). The
-- counts slot is data_sources_counts.sql, the one definition of those figures.
-- Grain: one row per source and, for file loads, per file name.
delete from mart_data_sources;

insert into mart_data_sources
select s.source, s.file_name, s.charges, s.synthetic_charges
from {{ counts }} as s;
