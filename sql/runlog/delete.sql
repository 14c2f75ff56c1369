-- Remove one run's row before its final row replaces it (run ids are unique per run).
delete from pipeline_runs where run_id = :run_id;
