-- Where the served charges came from, so the provenance line names the source truthfully.
-- Grain: one row per source and, for file loads, per file name (marts/data_sources_counts.sql says
-- what each column counts). The sources slot: mart_data_sources (rebuilt by each load), or
-- data_sources_counts.sql (the same rows counted from the charges) on a warehouse whose marts are
-- not built yet.
with final as (
    select source, file_name, charges, synthetic_charges
    from {{ sources }} as s
)

select * from final
order by charges desc, source, file_name
