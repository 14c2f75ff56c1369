-- The charges a batch replaces (warehouse/merge_charges.sql's rule), with the stop date that places
-- each in the curated zone's year/month partitions: rows with one of the batch's row_ids
-- ({{ key_column }} = row_id), or file/sample rows with the content_key of one of its Socrata rows
-- ({{ key_column }} = content_key, :any_source false). Read before the lake merge, so that the merge
-- rewrites only the curated files that hold these rows (zones.merge_curated). The :updated_at held
-- serves the older re-stamp check (load._note_older_restamps) at no extra query.
-- Grain: one row per replaced charge. {{ keys }} is a list of bound placeholders (sqlfiles.expand_list).
with final as (
    select row_id, date_of_stop, source_updated_at
    from moco_traffic_violations
    where {{ key_column }} in ({{ keys }})
      and (:any_source or source in ('file', 'sample'))
)

select * from final
