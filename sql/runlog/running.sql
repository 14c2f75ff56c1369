-- Runs still marked `running`. Called by a run that holds the load lock, so each of these died
-- (killed, machine lost) before it could record how it ended. Grain: one row per run.
select run_id, command, source, started_at
from pipeline_runs
where status = 'running'
order by started_at;
