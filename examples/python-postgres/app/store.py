"""The todo store: every operation is plain SQL run against PostgreSQL."""

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import errors

SCHEMA = """
CREATE TABLE IF NOT EXISTS todos (
    id         SERIAL PRIMARY KEY,
    title      TEXT NOT NULL UNIQUE CONSTRAINT title_not_blank CHECK (btrim(title) <> ''),
    done       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class DuplicateTodo(ValueError):
    """A todo with the same title already exists."""


class TodoNotFound(LookupError):
    """No todo has the given id."""


@dataclass(frozen=True)
class Todo:
    id: int
    title: str
    done: bool


class TodoStore:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def create_schema(self) -> None:
        self.conn.execute(SCHEMA)

    def drop_schema(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS todos")

    def add(self, title: str) -> Todo:
        try:
            row = self.conn.execute(
                "INSERT INTO todos (title) VALUES (%s) RETURNING id, title, done", (title,)
            ).fetchone()
        except errors.UniqueViolation as exc:
            raise DuplicateTodo(title) from exc
        return Todo(*row)

    def add_many(self, titles: Iterable[str]) -> list[Todo]:
        """Add all titles or none: one duplicate rolls the whole batch back."""
        added = []
        try:
            with self.conn.transaction():
                for title in titles:
                    row = self.conn.execute(
                        "INSERT INTO todos (title) VALUES (%s) RETURNING id, title, done",
                        (title,),
                    ).fetchone()
                    added.append(Todo(*row))
        except errors.UniqueViolation as exc:
            raise DuplicateTodo(str(exc.diag.message_detail)) from exc
        return added

    def get(self, todo_id: int) -> Todo:
        row = self.conn.execute(
            "SELECT id, title, done FROM todos WHERE id = %s", (todo_id,)
        ).fetchone()
        if row is None:
            raise TodoNotFound(todo_id)
        return Todo(*row)

    def list_todos(self, done: bool | None = None) -> list[Todo]:
        rows = self.conn.execute(
            "SELECT id, title, done FROM todos"
            " WHERE %(done)s::boolean IS NULL OR done = %(done)s::boolean ORDER BY id",
            {"done": done},
        ).fetchall()
        return [Todo(*row) for row in rows]

    def complete(self, todo_id: int) -> Todo:
        row = self.conn.execute(
            "UPDATE todos SET done = TRUE WHERE id = %s RETURNING id, title, done", (todo_id,)
        ).fetchone()
        if row is None:
            raise TodoNotFound(todo_id)
        return Todo(*row)

    def delete(self, todo_id: int) -> None:
        cur = self.conn.execute("DELETE FROM todos WHERE id = %s", (todo_id,))
        if cur.rowcount == 0:
            raise TodoNotFound(todo_id)

    def count(self, done: bool | None = None) -> int:
        (n,) = self.conn.execute(
            "SELECT count(*) FROM todos"
            " WHERE %(done)s::boolean IS NULL OR done = %(done)s::boolean",
            {"done": done},
        ).fetchone()
        return n
