-- Refresh one all-time stop cube ({{ cube }}) by adding the signed stops of stop_changes (-1 for a
-- stop as it was, +1 as it is): a cell's new counts are its old counts plus the change, so a
-- load costs what it changed, not a re-aggregation of every stop. A cell whose stops fall to 0 is
-- dropped. Keys are compared through coalesce so that null (a column the cube does not keep, or
-- a missing value) matches null; the stand-ins can't occur in the data (chr(31), -999999).
-- Grain of {{ cube }}: one row per kept columns with at least one stop.
create temp table span_delta as
with changes as (
    select
        {{ cell_size }} as cell_size,
        {{ cell_y }} as cell_y,
        {{ cell_x }} as cell_x,
        {{ stop_weekday }} as stop_weekday,
        {{ stop_hour }} as stop_hour,
        {{ top_description }} as top_description,
        {{ race }} as race,
        {{ gender }} as gender,
        {{ zip5 }} as zip5,
        {{ outcome }} as outcome,
        {{ district }} as district,
        d.sign,
        d.sign * d.n_charges as charges
    from stop_changes as d
    {{ grid }}
),

final as (
    select
        cell_size, cell_y, cell_x, stop_weekday, stop_hour, top_description,
        race, gender, zip5, outcome, district,
        cast(sum(sign) as bigint) as stops,
        cast(sum(charges) as bigint) as charges
    from changes
    group by cell_size, cell_y, cell_x, stop_weekday, stop_hour, top_description,
        race, gender, zip5, outcome, district
)

select * from final;

create temp table span_next as
select
    d.cell_size, d.cell_y, d.cell_x, d.stop_weekday, d.stop_hour, d.top_description,
    d.race, d.gender, d.zip5, d.outcome, d.district,
    cast(coalesce(c.stops, 0) + d.stops as bigint) as stops,
    cast(coalesce(c.charges, 0) + d.charges as bigint) as charges
from span_delta as d
left join {{ cube }} as c
    on coalesce(c.cell_size, -1.0) = coalesce(d.cell_size, -1.0)
    and coalesce(c.cell_y, -999999) = coalesce(d.cell_y, -999999)
    and coalesce(c.cell_x, -999999) = coalesce(d.cell_x, -999999)
    and coalesce(c.stop_weekday, -1) = coalesce(d.stop_weekday, -1)
    and coalesce(c.stop_hour, -1) = coalesce(d.stop_hour, -1)
    and coalesce(c.top_description, chr(31)) = coalesce(d.top_description, chr(31))
    and coalesce(c.race, chr(31)) = coalesce(d.race, chr(31))
    and coalesce(c.gender, chr(31)) = coalesce(d.gender, chr(31))
    and coalesce(c.zip5, chr(31)) = coalesce(d.zip5, chr(31))
    and coalesce(c.outcome, chr(31)) = coalesce(d.outcome, chr(31))
    and coalesce(c.district, chr(31)) = coalesce(d.district, chr(31));

delete from {{ cube }}
using span_delta as d
where coalesce({{ cube }}.cell_size, -1.0) = coalesce(d.cell_size, -1.0)
    and coalesce({{ cube }}.cell_y, -999999) = coalesce(d.cell_y, -999999)
    and coalesce({{ cube }}.cell_x, -999999) = coalesce(d.cell_x, -999999)
    and coalesce({{ cube }}.stop_weekday, -1) = coalesce(d.stop_weekday, -1)
    and coalesce({{ cube }}.stop_hour, -1) = coalesce(d.stop_hour, -1)
    and coalesce({{ cube }}.top_description, chr(31)) = coalesce(d.top_description, chr(31))
    and coalesce({{ cube }}.race, chr(31)) = coalesce(d.race, chr(31))
    and coalesce({{ cube }}.gender, chr(31)) = coalesce(d.gender, chr(31))
    and coalesce({{ cube }}.zip5, chr(31)) = coalesce(d.zip5, chr(31))
    and coalesce({{ cube }}.outcome, chr(31)) = coalesce(d.outcome, chr(31))
    and coalesce({{ cube }}.district, chr(31)) = coalesce(d.district, chr(31));

insert into {{ cube }}
select
    cell_size, cell_y, cell_x, stop_weekday, stop_hour, top_description,
    race, gender, zip5, outcome, district, stops, charges
from span_next
where stops > 0;

drop table span_delta;

drop table span_next;
