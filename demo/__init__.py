"""The Moderation Console, a local stand-in for the internal moderation tool, and its data.

- ``demo.generate.generate(db_path, seed=, days=, start=, scale=)`` writes a synthetic data set.
- ``demo.fixtures.write_cases_csv`` / ``write_vendor_workbooks`` write fixtures without the app.
- ``demo.server.ConsoleServer`` runs the console on localhost for tests; ``main`` for people.

Heavy imports (numpy, Flask, openpyxl) stay in the submodules, so importing ``demo`` is cheap.
"""
