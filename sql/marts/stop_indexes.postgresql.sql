-- Indexes on stops for the dashboard questions no cube answers (the map's location grid and the most
-- serious charge, filtered by ZIP code or dates on My ZIP and Trends): PostgreSQL reads a ZIP's
-- ~5% of stops through the index instead of scanning 1.3M wide rows.
create index if not exists stops_zip5 on stops (zip5);

create index if not exists stops_date on stops (date_of_stop);
