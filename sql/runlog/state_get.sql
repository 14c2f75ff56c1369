-- One pipeline_state value (the :updated_at watermark, the curated lake version the warehouse holds).
select state_value from pipeline_state where state_key = :key;
