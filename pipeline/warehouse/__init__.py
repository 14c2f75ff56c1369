"""One warehouse interface, three backends; :func:`open_warehouse` picks one from the settings."""

from __future__ import annotations

from ..config import Settings
from .base import Warehouse, WarehouseError


def open_warehouse(settings: Settings) -> Warehouse:
    kind = settings.warehouse_kind
    if kind == "duckdb":
        from .duckdb_wh import DuckDBWarehouse

        return DuckDBWarehouse(settings.duckdb_path, memory_limit=settings.memory_limit, lock_wait_s=settings.lock_wait_s)
    if kind == "postgresql":
        from .postgres_wh import PostgresWarehouse

        return PostgresWarehouse(settings.warehouse_url, lock_wait_s=settings.lock_wait_s,
                                 statement_timeout_s=settings.statement_timeout_s)
    from .redshift_wh import RedshiftWarehouse

    return RedshiftWarehouse(settings)


__all__ = ["Warehouse", "WarehouseError", "open_warehouse"]
