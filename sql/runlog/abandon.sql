-- Mark one dead run `abandoned` (its `running` row stays as evidence, with when it was found).
update pipeline_runs
set status = 'abandoned', finished_at = :found_at, message = :message
where run_id = :run_id and status = 'running';
