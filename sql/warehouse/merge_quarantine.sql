-- Replace the quarantine rows of whatever this batch re-read, so reruns never pile up duplicates:
-- a file's rows are keyed by file name (a rerun re-reads the whole file); API rows by row_id.
delete from quarantine_rows
where source_file in (select distinct source_file from stg_quarantine where row_id is null)
   or source_file in (select distinct source_file from stg_charges where source <> 'socrata');

delete from quarantine_rows
where row_id in (select row_id from stg_quarantine where row_id is not null)
   or row_id in (select row_id from stg_charges);

insert into quarantine_rows (load_id, source_file, raw_line, reason, row_id, raw_text)
select load_id, source_file, raw_line, reason, row_id, raw_text
from stg_quarantine;
