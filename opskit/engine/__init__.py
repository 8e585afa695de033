"""The engine: run history, timetables and calendars, scheduling decisions, the daemon, executors, workers.

Task authors never import from here; the command line, the scheduler and the web app do.
"""
