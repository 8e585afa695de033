"""A task that does nothing but note when its first line ran, for the scheduler's start-latency bench."""

from __future__ import annotations

import time

from opskit import Result, RunContext, task


@task
def noop(ctx: RunContext, *, marker_dir: str = "") -> Result:
    """Write the wall time of this first line into marker_dir/<run id>."""
    now = time.time()
    if marker_dir:
        with open(f"{marker_dir}/{ctx.run_id}", "w") as f:
            f.write(f"{ctx.scheduled_for.timestamp()} {now}")
    return Result()
