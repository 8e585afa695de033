"""The history's schema migrations (Alembic), shipped inside the package and run by opskit itself.

Users never need an ``alembic.ini``: ``opskit.engine.migrate`` points Alembic at this folder and runs it on
the store's own connection, inside one write transaction. ``HEAD`` is the newest revision, so a store that
is already up to date is recognised with one query, without importing Alembic (worker start-up time).
"""

HEAD = "0003"
