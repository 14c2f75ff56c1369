-- What changes whenever a load or a reference reload commits: the dashboard's cache key. One row.
select
    (select count(*) from pipeline_runs) as runs,
    (select max(finished_at) from pipeline_runs where status = 'success') as last_success,
    (select count(*) from zip_demographics) as zips,
    (select sum(residents) from zip_demographics) as residents
