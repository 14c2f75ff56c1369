-- The run log's columns as the warehouse has them (to add columns newer than an old warehouse).
select column_name
from information_schema.columns
where table_name = 'pipeline_runs' and table_schema = current_schema();
