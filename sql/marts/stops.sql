-- stops: one row per stop, rebuilt for the stops this batch touched (affected_stops joined in by
-- {{ scope }}), or for every stop of stop years :year_from to :year_to on a first load ({{ scope }}
-- empty). The caller drops affected_stops. A first load runs this once per year: a stop's charges
-- share its date, so each pass aggregates one year's stops (a 13M-stop aggregate at once spills).
-- The scope is a join, never `flag or stop_id in (...)`: PostgreSQL plans that as a subplan per row
-- (a 300k-row incremental ran 15+ minutes).
-- Outcome is the most serious charge: Citation > SERO/ESERO (safety equipment repair order) > Warning.
-- NOTE: search fields exist only in exports from about 2019 on; search_recorded says whether a
-- stop's row carries them, so rates use stops with search_recorded = 1 as the denominator.
-- Every stop this rebuild deletes (sign -1) and inserts (sign +1) is noted in stop_changes: the stop
-- cubes (pipeline/marts.py) are refreshed from it in the same transaction, month cubes for the
-- months it names, all-time cubes by adding its signed counts. The caller creates stop_changes
-- (marts/stop_changes.sql).
insert into stop_changes
select
    -1, c.stop_year, c.stop_month, c.stop_weekday, c.stop_hour, c.top_description, c.latitude, c.longitude,
    c.zip_status, c.race, c.gender, c.zip5, c.outcome, c.district, c.n_charges
from stops as c
{{ scope }}
where c.stop_year between :year_from and :year_to;

delete from stops
where stop_id in (select stop_id from affected_stops)
    and stop_year between :year_from and :year_to;

insert into stops
with charges as (
    select c.*
    from moco_traffic_violations as c
    {{ scope }}
    where c.stop_year between :year_from and :year_to
),

per_stop as (
    select
        stop_id,
        max(seq_id) as seq_id,
        min(date_of_stop) as date_of_stop,
        min(time_of_stop) as time_of_stop,
        max(district) as district,
        max(zip5) as zip5,
        max(zip_status) as zip_status,
        max(latitude) as latitude,
        max(longitude) as longitude,
        max(race) as race,
        max(gender) as gender,
        max(driver_city) as driver_city,
        max(driver_state) as driver_state,
        max(dl_state) as dl_state,
        count(*) as n_charges,
        sum(case when violation_type = 'Citation' then 1 else 0 end) as n_citations,
        sum(case when violation_type = 'Warning' then 1 else 0 end) as n_warnings,
        sum(case when violation_type in ('ESERO', 'SERO') then 1 else 0 end) as n_sero,
        max(case when search_conducted is not null then 1 else 0 end) as search_recorded,
        max(case when search_conducted then 1 else 0 end) as searched,
        max(search_reason) as search_reason,
        max(search_type) as search_type,
        max(case when search_disposition like '%Contraband%' then 1 else 0 end) as contraband_found,
        max(case when search_outcome = 'Arrest' then 1 else 0 end) as arrested,
        max(case when accident then 1 else 0 end) as accident,
        max(case when alcohol then 1 else 0 end) as alcohol,
        -- The most serious charge, as "rank<US>charge<US>description" so one min() finds it without a
        -- window function (the same in DuckDB, PostgreSQL and Redshift). US = chr(31), never in the data.
        min(
            case violation_type when 'Citation' then '1' when 'ESERO' then '2' when 'SERO' then '2' else '3' end
            || chr(31) || coalesce(charge, '') || chr(31) || coalesce(description, '')
        ) as top_key
    from charges
    group by stop_id
),

final as (
    select
        p.stop_id,
        p.seq_id,
        p.date_of_stop,
        p.time_of_stop,
        cast(extract(year from p.date_of_stop) as integer) as stop_year,
        cast(extract(month from p.date_of_stop) as integer) as stop_month,
        cast(extract(dow from p.date_of_stop) as integer) as stop_weekday,
        cast(extract(hour from p.time_of_stop) as integer) as stop_hour,
        p.district,
        p.zip5,
        p.zip_status,
        p.latitude,
        p.longitude,
        p.race,
        p.gender,
        p.driver_city,
        p.driver_state,
        p.dl_state,
        p.n_charges,
        p.n_citations,
        p.n_warnings,
        p.n_sero,
        case when p.n_citations > 0 then 'Citation' when p.n_sero > 0 then 'SERO' else 'Warning' end as outcome,
        p.search_recorded,
        p.searched,
        p.search_reason,
        p.search_type,
        p.contraband_found,
        p.arrested,
        p.accident,
        p.alcohol,
        nullif(split_part(p.top_key, chr(31), 2), '') as top_charge,
        nullif(split_part(p.top_key, chr(31), 3), '') as top_description
    from per_stop as p
)

select * from final;

insert into stop_changes
select
    1, c.stop_year, c.stop_month, c.stop_weekday, c.stop_hour, c.top_description, c.latitude, c.longitude,
    c.zip_status, c.race, c.gender, c.zip5, c.outcome, c.district, c.n_charges
from stops as c
{{ scope }}
where c.stop_year between :year_from and :year_to;
