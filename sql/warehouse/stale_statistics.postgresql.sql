-- The warehouse tables whose planner statistics are missing or stale: never analyzed, or more than
-- a tenth of their rows changed since (autovacuum's default threshold). NOTE: autovacuum may be off
-- (it is on the CI machines), and it never sees a table inside the load's open transaction; without
-- statistics PostgreSQL plans a 2,000-row merge into 1M charges as a hash join over every charge
-- (1.4 s per statement instead of milliseconds), so the load analyzes what it needs itself.
-- Grain: one row per stale table among :tables (an expanded list of bound values).
with tables as (
    select c.relname as table_name, c.reltuples, s.n_mod_since_analyze,
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
       or n_mod_since_analyze > 0.1 * greatest(reltuples, 1)
)

select table_name from final order by table_name
