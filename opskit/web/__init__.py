"""The team's front door: ``runner.py web`` serves pages and a JSON API over the run history.

Analysts see their groups' jobs and runs, run a job now with other parameters (through the scheduler's
queue), watch its log, download what it produced and read the email as it was sent. The app is a Flask
app factory (``opskit.web.app.create_app``) with blueprints by concern (auth, jobs, runs, outbox, admin,
api), server-rendered Jinja2 templates and a vendored htmx for progressive enhancement; no build step.

Importing this package loads nothing heavy: Flask comes with ``create_app``.
"""
