-- Indexes on a stop cube for PostgreSQL, a row store that scans whole rows: a filter on dates or ZIP
-- codes (the Overview's period, My ZIP) reads only its share of a large cube; the refresh deletes the
-- months a load changed through the month index.
create index if not exists {{ cube }}_date on {{ cube }} (date_of_stop);

create index if not exists {{ cube }}_zip5 on {{ cube }} (zip5);

create index if not exists {{ cube }}_month on {{ cube }} (stop_year, stop_month);
