-- Fencing, step 2: the token of the run that holds the load lock now. A run whose token is gone
-- was overtaken by another run: it must roll back instead of committing.
select token from pipeline_lock_fence;
