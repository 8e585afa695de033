"""The command line (``python runner.py COMMAND``): commands, scaffolding, bootstrap."""
