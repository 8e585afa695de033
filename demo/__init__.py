"""The Moderation Console, a local stand-in for the internal moderation tool, and its data.

- ``demo.generate.generate(db_path, seed=, days=, start=, scale=)`` writes a synthetic data set.
- ``demo.fixtures`` writes fixtures without the app: ``write_cases_csv``, the report tasks' side inputs
  (``write_queues_csv``, ``write_targets_csv``, ``write_shifts_csv``, ``write_staffing_workbook``) and
  ``write_vendor_workbooks``.
- ``demo.server.ConsoleServer`` runs the console on localhost for tests; ``main`` for people.

Heavy imports (numpy, Flask, openpyxl) stay in the submodules, so importing ``demo`` is cheap.
"""
