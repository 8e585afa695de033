"""Runs on Celery workers: the broker's app (app.py), a worker's side of a run (runs.py), the
``runner.py worker`` process (worker.py) and what ``runner.py status`` shows of the cluster (status.py).

The scheduler's side is one more executor behind the launch seam (engine/executors/celery.py): the scheduler
still decides what runs when (overlap, concurrency, retries) and only sends the run's id to a queue. The
history is the truth both sides read: a worker takes a run only while it is queued and untaken
(``RunStore.claim_run``), so a message Celery or the scheduler delivers twice never runs twice.
"""
