"""Screenshots for the README: the weekly email as Chromium renders it, and the workbook's Summary sheet.

    .venv/bin/python scripts/screenshots.py          # after `make demo`

The email comes from the newest .eml in the outbox; the workbook from the newest efficiency_*.xlsx of a
weekly-ops-review run. The workbook is printed by LibreOffice (headless) and turned into PNG by poppler's
pdftoppm: a second, independent reader of what opskit writes. Both are Debian packages this script
installs on demand when run as root (`make test` never needs them).
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


def workbook_png(xlsx: Path, out: Path) -> None:
    """The Summary sheet (the first), printed by LibreOffice, first page as PNG."""
    ensure("soffice", "libreoffice-calc-nogui")
    ensure("pdftoppm", "poppler-utils")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["soffice", "--headless", "--convert-to", "pdf", "--outdir", tmp, str(xlsx)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=180,
        )
        pdf = Path(tmp) / (xlsx.stem + ".pdf")
        subprocess.run(
            ["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(out.with_suffix(""))],
            check=True,
        )
    _trim(out)


def _trim(path: Path, margin: int = 24) -> None:
    """Cut the empty rest of the printed page away, keeping a margin around the table."""
    from PIL import Image, ImageChops

    image = Image.open(path).convert("RGB")
    box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
    if box:
        left, top, right, bottom = box
        image.crop(
            (
                max(0, left - margin),
                max(0, top - margin),
                min(image.width, right + margin),
                min(image.height, bottom + margin),
            )
        ).save(path)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    eml = newest("*.eml", REPO / "outbox")
    email_png(eml, OUT / "weekly-email.png")
    print(f"wrote {OUT / 'weekly-email.png'} from {eml.name}")
    xlsx = newest("*weekly-ops-review*/efficiency_*.xlsx", REPO / "var" / "runs")
    workbook_png(xlsx, OUT / "workbook-summary.png")
    print(f"wrote {OUT / 'workbook-summary.png'} from {xlsx.name}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
