"""How often the browser layer looks at a page while it waits for something.

Waits poll every 25 ms at first, then less and less often, up to every 250 ms: a quick outcome is seen at
once, and a long wait (a background export being prepared) costs the machine next to nothing. Each look
is a round trip to the browser; on a 2-core machine shared with the server being waited for, polling
every 50 ms for seconds was measurably slowing the server down.
"""

from __future__ import annotations

POLL_MS = 25.0
POLL_MAX_MS = 250.0


def next_poll(ms: float) -> float:
    """The pause after one of ``ms``: half as long again, at most ``POLL_MAX_MS``."""
    return min(ms * 1.5, POLL_MAX_MS)
