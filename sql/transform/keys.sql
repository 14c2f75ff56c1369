-- Ordinals among identical rows of the batch, for the content key (curate.sql).
-- Grain: one row per landing row (file, row) whose content hash occurs more than once in the batch.
-- NOTE: identical rows of one file are interchangeable (one stop, several identical charges): only
-- how many there are matters. The same row can also appear in two files of one batch; ordering by
-- file makes each file's copy get the same ordinal on every run. Rows with a unique hash (almost
-- all) get ordinal 1 in curate.sql, which keeps this window to a few percent of the batch.
create or replace temp table dup_ordinals as
with landing_rows as (
    select filename, file_row_number, content_hash, source_file
    from read_parquet(getvariable('landing_files'), filename = true, file_row_number = true)
),

repeated as (
    select content_hash
    from landing_rows
    group by content_hash
    having count(*) > 1
),

final as (
    select
        l.filename,
        l.file_row_number,
        row_number() over (partition by l.content_hash order by l.source_file) as dup_ordinal
    from landing_rows as l
    where l.content_hash in (select content_hash from repeated)
)

select * from final
