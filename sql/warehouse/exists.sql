-- 1 when the current schema holds the charges table (a load has created the warehouse), else 0.
select count(*) as n
from information_schema.tables
where table_schema = current_schema() and table_name = 'moco_traffic_violations'
