-- Which definition the warehouse's stop cubes were built by (pipeline/marts.py MARTS_VERSION); the
-- dashboard reads the cubes only when it is this code's. Grain: zero or one row.
select state_value
from pipeline_state
where state_key = 'marts_version'
