-- Quarantine rows: rows that failed typing (with the reason) plus lines the CSV reader rejected.
-- Grain: one row per rejected source record. Raw text values are kept so a row can be repaired.
create or replace temp table quarantine as
with typed_rejects as (
    select
        cast(:load_id as varchar) as load_id,
        source_file,
        raw_line,
        quarantine_reason as reason,
        src_row_id as row_id,
        concat_ws(' | ', date_txt, time_txt, subagency, lat_txt, lon_txt, violation_type, race, gender, description) as raw_text
    from typed
    where quarantine_reason is not null
),

reader_rejects as (
    select
        cast(:load_id as varchar) as load_id,
        source_file,
        raw_line,
        reason,
        cast(null as varchar) as row_id,
        raw_text
    from src_rejects
),

final as (
    select * from typed_rejects
    union all
    select * from reader_rejects
)

select * from final
