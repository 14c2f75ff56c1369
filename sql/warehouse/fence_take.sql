-- Fencing: a run that has just taken the load lock writes its token (own transaction). Waits while
-- a commit holds the fence row (fence_touch.sql), so this run starts after that commit.
delete from pipeline_lock_fence;

insert into pipeline_lock_fence (token, taken_at) values (:token, :now);
