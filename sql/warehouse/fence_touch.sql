-- Fencing, step 1, in a transaction under the load lock just before its commit: lock the fence row
-- if it still holds this run's token. Until this transaction ends, a run taking the lock waits in
-- fence_take.sql, so it starts after this commit, never under it.
update pipeline_lock_fence set checked_at = :now where token = :token;
