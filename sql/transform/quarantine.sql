-- Quarantine rows: rows that failed typing (with the reason) plus lines the CSV reader rejected.
-- Grain: one row per rejected source record. Raw text values are kept so a row can be repaired.
-- typed_rejects holds the rejected rows that landing.sql streamed out (see transform.write_landing).
create or replace temp table quarantine as
with typed_rejects as (
    select
        cast(:load_id as varchar) as load_id,
        source_file,
        raw_line,
        quarantine_reason as reason,
        src_row_id as row_id,
        raw_text
    from typed_rejects
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
