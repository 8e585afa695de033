"""The history's schema migrations (Alembic), shipped inside the package and run by opskit itself.

Users never need an ``alembic.ini``: ``opskit.engine.migrate`` points Alembic at this folder and runs it on
the store's own connection, inside one write transaction. ``HEAD`` is the newest revision, so a store that
is already up to date is recognised with one query, without importing Alembic (worker start-up time).

A new revision: ``versions/NNNN_what.py`` with ``down_revision`` the previous one, written for both SQLite
and PostgreSQL (plain ``op`` calls, or ``CREATE ... IF NOT EXISTS``), and ``HEAD`` set to it; the test of
the shipped migrations (tests/cluster/test_history_db.py) fails when ``HEAD`` is not Alembic's head.
"""

HEAD = "0004"
