-- Refresh mart_charge_months for the months named in changed_months (marts/changed_months.sql: the
-- months of every stop the load deleted or inserted, so of every charge it deleted or inserted):
-- delete those months, then count their charges again from moco_traffic_violations itself (not
-- from stops, so the load's checks that compare it with the stops and the lake compare two
-- sources). A full build lists every month. Run in the load's transaction, after the merge.
-- The measures are those of marts/refresh.sql (data quality), provenance.sql and data_sources.sql;
-- synthetic_charges: bench/generate.py marks its rows' SeqID with '00000000-' (data_sources_counts.sql).
-- Joins changed_months, never `in (subquery)` (PostgreSQL would plan a subplan); PostgreSQL reads
-- those months through the charges_month index (marts/indexes.postgresql.sql).
delete from mart_charge_months
using changed_months as m
where mart_charge_months.stop_year = m.stop_year and mart_charge_months.stop_month = m.stop_month;

insert into mart_charge_months
with scoped as (
    select
        c.stop_year,
        c.stop_month,
        c.source,
        case when c.source = 'file' then c.source_file end as file_name,
        c.seq_id,
        c.latitude,
        c.zip5,
        c.zip_status,
        c.race,
        c.gender,
        c.date_of_stop
    from moco_traffic_violations as c
    inner join changed_months as m
        on m.stop_year = c.stop_year and m.stop_month = c.stop_month
),

final as (
    select
        stop_year,
        stop_month,
        source,
        file_name,
        cast(count(*) as bigint) as charges,
        cast(sum(case when seq_id like '00000000-%' then 1 else 0 end) as bigint) as synthetic_charges,
        cast(sum(case when latitude is null then 1 else 0 end) as bigint) as charges_without_location,
        cast(sum(case when zip5 is null then 1 else 0 end) as bigint) as charges_without_zip,
        cast(sum(case when zip_status = 'outside_county' then 1 else 0 end) as bigint) as charges_outside_county,
        cast(sum(case when race is null or race = 'OTHER' then 1 else 0 end) as bigint) as charges_race_unknown_or_other,
        cast(sum(case when gender is null or gender = 'U' then 1 else 0 end) as bigint) as charges_gender_unknown,
        min(date_of_stop) as first_stop,
        max(date_of_stop) as last_stop
    from scoped
    group by stop_year, stop_month, source, file_name
)

select * from final;
