"""Screenshots for the README and docs/reports.md: each report kind's email on a phone, the weekly
email, and a printed Summary page.

    .venv/bin/python scripts/screenshots.py                       # after `make demo`
    .venv/bin/python scripts/screenshots.py --workbook efficiency_2026-W46.xlsx

- ``docs/img/email-<kind>-375.png``: the report email of each kind (comparison, status, ingestion,
  plan, reconciliation) as Chromium renders it 375 px wide, from the realistic summaries the tests
  use (tests/delivery/samples.py), through the same templates and ``email_sections`` as the pipeline;
- ``docs/img/weekly-email.png``: the newest .eml in the outbox, 700 px wide (after `make demo`);
- ``docs/img/workbook-summary.png``: the first printed page (the Summary) of a workbook — the newest
  efficiency_*.xlsx of a weekly-ops-review run, or ``--workbook`` — printed by LibreOffice (headless)
  and turned into PNG by poppler's pdftoppm: a second, independent reader of what opskit writes.
  Both are Debian packages the bootstrap installs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from email import policy
from email.parser import BytesParser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "img"


def newest(pattern: str, root: Path) -> Path:
    found = sorted(root.glob(pattern), key=lambda p: p.stat().st_mtime)
    if not found:
        sys.exit(f"error: no {pattern} under {root}: run `make demo` first")
    return found[-1]


def ensure(command: str, package: str) -> None:
    if shutil.which(command):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(f"error: {command} is missing: sudo apt-get install -y {package}")
    print(f"installing {package} ...", flush=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def email_png(eml: Path, out: Path) -> None:
    """The HTML part with its inline images, as a mail client shows it, 700 px wide."""
    import base64

    from playwright.sync_api import sync_playwright

    from opskit.browser.chromium import launch_options

    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    html = message.get_body(("html",)).get_content()
    for part in message.walk():
        cid = (part.get("Content-ID") or "").strip("<>")
        if cid:
            data = base64.b64encode(part.get_payload(decode=True)).decode()
            html = html.replace(f"cid:{cid}", f"data:{part.get_content_type()};base64,{data}")
    with sync_playwright() as p:
        browser = p.chromium.launch(**launch_options(p))
        page = browser.new_page(viewport={"width": 700, "height": 900}, device_scale_factor=1)
        page.set_content(html, wait_until="load")
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def kind_pngs(out_dir: Path, width: int = 375) -> list[Path]:
    """Each report kind's email, rendered from its sample summary, as a phone shows it."""
    import base64

    from playwright.sync_api import sync_playwright

    from opskit.browser.chromium import launch_options
    from opskit.delivery.charts import trend_chart_png
    from opskit.delivery.render import Renderer
    from tests.delivery.samples import SUMMARIES, report_context, trend_series

    renderer = Renderer(timezone="Europe/Berlin")
    chart = base64.b64encode(trend_chart_png(trend_series(), "AHT per week (seconds)")).decode()
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(**launch_options(p))
        page = browser.new_page(viewport={"width": width, "height": 800}, device_scale_factor=2)
        for kind in SUMMARIES:
            extra = {"chart_cid": "trend", "chart_alt": "AHT per week"} if kind == "comparison" else {}
            html = renderer.render_email("email/report.html", report_context(kind, **extra)).html
            html = html.replace("cid:trend", f"data:image/png;base64,{chart}")
            page.set_content(html, wait_until="load")
            target = out_dir / f"email-{kind}-{width}.png"
            page.screenshot(path=str(target), full_page=True)
            written.append(target)
        browser.close()
    return written


def workbook_png(xlsx: Path, out: Path) -> None:
    """The Summary sheet (the first), printed by LibreOffice, its first page as PNG (the whole page)."""
    ensure("soffice", "libreoffice-calc-nogui")
    ensure("pdftoppm", "poppler-utils")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                "soffice",
                f"-env:UserInstallation=file://{tmp}/profile",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                tmp,
                str(xlsx),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=180,
        )
        pdf = Path(tmp) / (xlsx.stem + ".pdf")
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(out.with_suffix(""))],
            check=True,
        )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workbook", type=Path, help="the workbook whose Summary page to print")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    for path in kind_pngs(OUT):
        print(f"wrote {path}")
    if (REPO / "outbox").is_dir() and any((REPO / "outbox").glob("*.eml")):
        eml = newest("*.eml", REPO / "outbox")
        email_png(eml, OUT / "weekly-email.png")
        print(f"wrote {OUT / 'weekly-email.png'} from {eml.name}")
    xlsx = args.workbook or newest("*weekly-ops-review*/efficiency_*.xlsx", REPO / "var" / "runs")
    workbook_png(xlsx, OUT / "workbook-summary.png")
    print(f"wrote {OUT / 'workbook-summary.png'} from {xlsx.name}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
