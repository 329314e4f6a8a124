"""Connecting to PostgreSQL with settings taken from the environment.

The defaults match the `db` service in codeship-services.yml, so the code runs
unchanged inside a slipway (or Codeship Pro) step.
"""

import os

import psycopg

DEFAULTS = {
    "host": "db",
    "port": "5432",
    "user": "todo",
    "password": "todo-secret",
    "dbname": "todos",
}

ENV_NAMES = {
    "host": "DATABASE_HOST",
    "port": "DATABASE_PORT",
    "user": "DATABASE_USER",
    "password": "DATABASE_PASSWORD",
    "dbname": "DATABASE_NAME",
}


def connection_settings(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Return libpq keyword arguments, each one overridable by a DATABASE_* variable."""
    env = os.environ if environ is None else environ
    return {key: env.get(ENV_NAMES[key], default) for key, default in DEFAULTS.items()}


def connect(**overrides: str) -> psycopg.Connection:
    """Open an autocommit connection; multi-statement work uses explicit transactions."""
    settings = connection_settings() | overrides
    return psycopg.connect(**settings, autocommit=True, connect_timeout=10)
