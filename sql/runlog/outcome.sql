-- One run's recorded status and message (a failing run checks it before writing its outcome).
select status, message from pipeline_runs where run_id = :run_id;
