-- Set one pipeline_state value, in the caller's transaction (the load's, with the data it describes).
delete from pipeline_state where state_key = :key;

insert into pipeline_state (state_key, state_value, updated_at) values (:key, :value, :now);
