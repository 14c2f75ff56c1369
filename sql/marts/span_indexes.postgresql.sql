-- Indexes on an all-time stop cube for PostgreSQL (see cube_indexes.postgresql.sql): My ZIP reads its
-- ZIP's share of the cube through this index.
create index if not exists {{ cube }}_zip5 on {{ cube }} (zip5);
