"""Where the shared test corpora live (real files from other projects' test suites), found from the
repository root, never from where a developer happened to check it out.

The ``shared/`` folder sits beside the repository (``<repo>/../shared``). A clone made elsewhere from a
local checkout (``git clone /path/to/opskit /tmp/x``) finds it beside its origin. ``OPSKIT_SHARED``
names it explicitly. When none of these exists, the tests that need it fail with a message saying where
they looked — they never pass silently, and the rest of the suite still collects and runs.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _origin_checkout() -> Path | None:
    """The local repository this one was cloned from, if it was cloned from a path."""
    try:
        url = subprocess.run(
            ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not url or "://" in url or url.startswith("git@"):
        return None
    path = Path(url.removeprefix("file:"))
    return path if path.is_absolute() else (REPO / path).resolve()


@cache
def candidates() -> tuple[Path, ...]:
    found = []
    if os.environ.get("OPSKIT_SHARED"):
        found.append(Path(os.environ["OPSKIT_SHARED"]))
    # beside the repository, or beside a folder that holds it (a git worktree under <work>/wt/<name>)
    found.extend(parent / "shared" for parent in REPO.parents)
    origin = _origin_checkout()
    if origin is not None:  # a clone of a local checkout: beside that checkout
        found.extend(parent / "shared" for parent in origin.parents)
    return tuple(dict.fromkeys(found))


@cache
def shared_dir() -> Path | None:
    """The shared folder, or None when it is nowhere to be found."""
    return next((p for p in candidates() if (p / "corpus").is_dir()), None)


def corpus(*parts: str) -> Path:
    """A path inside ``shared/corpus``; fails the calling test loudly when the corpus is missing."""
    root = shared_dir()
    if root is None:
        looked = ", ".join(str(p) for p in candidates())
        pytest.fail(f"the shared test corpus is missing (looked in {looked}); set OPSKIT_SHARED=/path/to/shared")
    return root.joinpath("corpus", *parts)


def corpus_or_none(*parts: str) -> Path | None:
    """Like ``corpus`` but None when missing: for building parameter lists at collection time."""
    root = shared_dir()
    return root.joinpath("corpus", *parts) if root is not None else None
