-- The warehouse tables whose planner statistics are missing or stale: never analyzed, or holding more
-- than :share (a tenth, autovacuum's default threshold) more or fewer live rows than the last analyze
-- counted (pg_class.reltuples). NOTE: autovacuum may be off (it is on the CI machines), and it never
-- sees a table inside the load's open transaction; without statistics PostgreSQL plans a 2,000-row
-- merge into 1M charges as a hash join over every charge (1.4 s per statement instead of
-- milliseconds), so the load analyzes what it needs itself. The rule compares row counts, not
-- n_mod_since_analyze: a load analyzes inside its own transaction (a first load, a large merge), and
-- its changes reach that counter at its commit, after the analyze, so every such load would leave the
-- tables "stale" and the next daily run would analyze 1M charges again (BENCHMARKS.md, "h22-daily").
-- Grain: one row per stale table among :tables (an expanded list of bound values).
with tables as (
    select c.relname as table_name, c.reltuples, s.n_live_tup,
        coalesce(s.last_analyze, s.last_autoanalyze) as analyzed_at
    from pg_class as c
    join pg_namespace as n on n.oid = c.relnamespace
    left join pg_stat_user_tables as s on s.relid = c.oid
    where n.nspname = current_schema()
      and c.relkind = 'r'
      and c.relname in ({{ tables }})
),

final as (
    select table_name
    from tables
    where analyzed_at is null
       or abs(n_live_tup - reltuples) > :share * greatest(reltuples, 1)
)

select table_name from final order by table_name
