#!/usr/bin/env python3
"""opskit's command line: `python runner.py --help`. All logic lives in opskit/cli/."""

import sys

try:
    from opskit.cli.main import main
except ModuleNotFoundError as exc:  # run with a Python that lacks the dependencies
    print(
        f"error: {exc.name} is not installed. Run `make test` once (it creates .venv), then use "
        f"`.venv/bin/python runner.py ...`",
        file=sys.stderr,
    )
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
