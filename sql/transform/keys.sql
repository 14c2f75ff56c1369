-- Ordinals among identical rows of the batch, for the content key (curate.sql). Run once per
-- landing file (the variable keys_file): identical rows share their date, so they are always in
-- the same stop-year file, and one year at a time keeps the hash table to one year's rows.
-- Grain: one row per landing row (file, row) whose content hash occurs more than once.
-- NOTE: identical rows of one file are interchangeable (one stop, several identical charges): only
-- how many there are matters. The same row can also appear in two source files of one batch;
-- ordering by source file makes each file's copy get the same ordinal on every run. Rows with a
-- unique hash (almost all) get ordinal 1 in curate.sql, which keeps the window small.
create temp table if not exists dup_ordinals (filename varchar, file_row_number bigint, dup_ordinal bigint);

insert into dup_ordinals
with landing_rows as (
    select filename, file_row_number, content_hash, source_file
    from read_parquet(getvariable('keys_file'), filename = true, file_row_number = true)
),

-- A 64-bit hash of the md5 text is a smaller group key; a collision only adds a candidate, and the
-- window below still partitions by the full content hash.
repeated as (
    select hash(content_hash) as h
    from landing_rows
    group by 1
    having count(*) > 1
),

final as (
    select
        l.filename,
        l.file_row_number,
        row_number() over (partition by l.content_hash order by l.source_file) as dup_ordinal
    from landing_rows as l
    where hash(l.content_hash) in (select h from repeated)
)

select * from final
