-- The months whose stops changed in this load (filled by marts/stops.sql; read by cube_refresh.sql).
-- Grain: one row per month noted (duplicates allowed; readers take distinct).
create temp table if not exists refresh_months (stop_year integer, stop_month integer);
