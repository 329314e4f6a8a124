"""A tiny todo store kept in PostgreSQL."""

from app.db import connect, connection_settings
from app.store import DuplicateTodo, Todo, TodoNotFound, TodoStore

__all__ = [
    "DuplicateTodo",
    "Todo",
    "TodoNotFound",
    "TodoStore",
    "connect",
    "connection_settings",
]
