import psycopg
import pytest
from psycopg import errors

from app import DuplicateTodo, Todo, TodoNotFound, connection_settings


def test_settings_default_to_the_db_service():
    assert connection_settings({}) == {
        "host": "db",
        "port": "5432",
        "user": "todo",
        "password": "todo-secret",
        "dbname": "todos",
    }
    assert connection_settings({"DATABASE_HOST": "localhost"})["host"] == "localhost"


def test_connected_to_postgres_15_as_the_configured_user(conn):
    assert conn.info.server_version // 10000 == 15
    user, db = conn.execute("SELECT current_user, current_database()").fetchone()
    assert (user, db) == (connection_settings()["user"], connection_settings()["dbname"])
    assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)


def test_wrong_password_is_refused():
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**(connection_settings() | {"password": "not-the-password"}))


def test_schema_creates_the_todos_table(store, conn):
    columns = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = 'todos' ORDER BY ordinal_position"
    ).fetchall()
    assert columns == [
        ("id", "integer"),
        ("title", "text"),
        ("done", "boolean"),
        ("created_at", "timestamp with time zone"),
    ]


def test_add_then_get(store):
    todo = store.add("write the engine")
    assert todo == Todo(id=todo.id, title="write the engine", done=False)
    assert store.get(todo.id) == todo
    assert store.get(store.add("café ☕").id).title == "café ☕"


def test_list_and_count_filter_on_done(store):
    a = store.add("a")
    b = store.add("b")
    c = store.add("c")
    store.complete(b.id)
    assert [t.title for t in store.list_todos()] == ["a", "b", "c"]
    assert store.list_todos(done=True) == [Todo(b.id, "b", True)]
    assert [t.id for t in store.list_todos(done=False)] == [a.id, c.id]
    assert (store.count(), store.count(done=True), store.count(done=False)) == (3, 1, 2)


def test_duplicate_title_violates_unique_constraint(store, conn):
    store.add("ship it")
    with pytest.raises(DuplicateTodo):
        store.add("ship it")
    with pytest.raises(errors.UniqueViolation):
        conn.execute("INSERT INTO todos (title) VALUES ('ship it')")
    assert store.count() == 1


def test_blank_title_violates_check_constraint(store):
    with pytest.raises(errors.CheckViolation, match="title_not_blank"):
        store.add("   ")
    with pytest.raises(errors.NotNullViolation):
        store.add(None)
    assert store.count() == 0


def test_add_many_is_all_or_nothing(store):
    store.add("existing")
    with pytest.raises(DuplicateTodo):
        store.add_many(["new one", "new two", "existing"])
    assert [t.title for t in store.list_todos()] == ["existing"]
    added = store.add_many(["new one", "new two"])
    assert [t.title for t in added] == ["new one", "new two"]
    assert store.count() == 3


def test_missing_todo_raises_not_found(store):
    todo = store.add("temporary")
    store.delete(todo.id)
    with pytest.raises(TodoNotFound):
        store.get(todo.id)
    with pytest.raises(TodoNotFound):
        store.complete(todo.id)
    with pytest.raises(TodoNotFound):
        store.delete(todo.id)
