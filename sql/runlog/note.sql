-- Replace one run's message, keeping its status (an abandoned run's own account of how it stopped).
update pipeline_runs set message = :message where run_id = :run_id;
