"""Durable state: SQLModel tables on SQLite (WAL) or any SQLAlchemy URL."""

from orchtui.store.db import Store

__all__ = ["Store"]
