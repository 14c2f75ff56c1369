-- Drop one stop cube before a full build (the cube definition changed, or a first build): a new
-- definition may have other columns, so the table is made again from cube_schema.sql / span_schema.sql.
drop table if exists {{ cube }};
