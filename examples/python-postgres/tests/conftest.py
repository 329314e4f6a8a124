import pytest

from app import TodoStore, connect


@pytest.fixture
def conn():
    """A connection to the `db` service; closed after the test."""
    conn = connect()
    yield conn
    conn.close()


@pytest.fixture
def store(conn):
    """A store on a freshly created, empty `todos` table."""
    store = TodoStore(conn)
    store.drop_schema()
    store.create_schema()
    yield store
    store.drop_schema()
