-- Sessions of this database holding the load lock (the advisory lock keyed on the namespace and
-- the schema, as postgres_wh.LOCK_SQL takes it), with what they say they are: a run's lock
-- session names its run in application_name ("moco-pipeline lock <run id>"). Read-only: looking
-- never takes the lock. Grain: one row per holding session (at most one).
select l.pid, a.application_name, a.state, a.state_change
from pg_locks as l
left join pg_stat_activity as a on a.pid = l.pid
where l.locktype = 'advisory'
  and l.granted
  and l.objsubid = 2
  and l.database = (select oid from pg_database where datname = current_database())
  and l.classid = hashtext(:ns)::oid
  and l.objid = hashtext(coalesce(:schema, current_schema(), ''))::oid;
