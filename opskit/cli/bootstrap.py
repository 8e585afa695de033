"""Make sure a Chromium for Playwright, the fonts for CJK text and emoji, LibreOffice and PostgreSQL are here.

PostgreSQL's server binaries (Debian's ``postgresql``) are for the cluster tests (tests/cluster/), which
start a server of their own in a temp folder as an unprivileged user; opskit itself needs only a
reachable server when ``history:`` names one, never a local installation.

LibreOffice (headless Calc) and poppler's pdftotext are the second reader of opskit's workbooks: the
print tests convert every shipped workbook to PDF with them (tests/tasks/test_print.py), and
scripts/screenshots.py prints a Summary page. Carlito is the metric-compatible stand-in for Calibri,
the font opskit's workbooks name.

Playwright's own Chromium is used where it is installed (a laptop after ``playwright install``). Where it is
not, and the machine cannot download it (servers, CI), Debian's ``chromium`` package is installed with
apt-get when we are root, with its headless shell (``chromium-headless-shell``: headless browser tasks run in
it, for a quarter less CPU; without it they run in ``chromium``, and bootstrap only says so). Otherwise we
say exactly what to install and exit 2. Detect, never assume.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

from opskit.browser.chromium import BrowserMissing, headless_shell, launch_options

DEBIAN_BROWSER = ("chromium",)
DEBIAN_SHELL = "chromium-headless-shell"
DEBIAN_FONTS = ("fonts-wqy-zenhei", "fonts-noto-color-emoji")
FONT_FAMILIES = {"WenQuanYi Zen Hei": "fonts-wqy-zenhei", "Noto Color Emoji": "fonts-noto-color-emoji"}
# command -> Debian package, for printing workbooks to PDF and reading the PDF back
PRINT_TOOLS = {"soffice": "libreoffice-calc-nogui", "pdftotext": "poppler-utils", "pdftoppm": "poppler-utils"}
PRINT_FONTS = {"Carlito": "fonts-crosextra-carlito"}
DEBIAN_DATABASE = ("postgresql",)
POSTGRES_BINARIES = "/usr/lib/postgresql/*/bin/initdb"


def main() -> int:
    browser = find_browser()
    if browser is None:
        if not can_apt():
            print(
                "error: no Chromium for Playwright on this machine. Install one of:\n"
                "  .venv/bin/python -m playwright install chromium   (downloads Playwright's build)\n"
                "  sudo apt-get install -y chromium                    (Debian/Ubuntu package)\n"
                "  or set OPSKIT_CHROMIUM=/path/to/chrome",
                file=sys.stderr,
            )
            return 2
        print("bootstrap: installing Debian's chromium with apt-get (Playwright's download is not installed)")
        apt_install(DEBIAN_BROWSER + DEBIAN_FONTS)
        browser = find_browser()
        if browser is None:
            print("error: apt-get installed chromium but Playwright still cannot find it", file=sys.stderr)
            return 2
    if not browser.startswith("Playwright's") and headless_shell() is None and not os.environ.get("OPSKIT_CHROMIUM"):
        if can_apt():
            print(f"bootstrap: installing {DEBIAN_SHELL} for headless browser tasks (a quarter less CPU per run)")
            try:
                apt_install((DEBIAN_SHELL,), recommends=False)
            except subprocess.CalledProcessError:  # an older release without it: chromium does the same, slower
                print(f"warning: could not install {DEBIAN_SHELL}; headless tasks use chromium", file=sys.stderr)
        else:
            print(f"note: headless browser tasks run faster in {DEBIAN_SHELL}: sudo apt-get install -y {DEBIAN_SHELL}")
    missing_fonts = [pkg for family, pkg in FONT_FAMILIES.items() if not font_installed(family)]
    if missing_fonts:
        if can_apt():
            print(f"bootstrap: installing fonts for CJK text and emoji: {' '.join(missing_fonts)}")
            apt_install(tuple(missing_fonts))
        else:
            print(
                f"warning: CJK text or emoji will render as boxes in screenshots and PDFs; install: "
                f"sudo apt-get install -y {' '.join(missing_fonts)}",
                file=sys.stderr,
            )
    missing_print = sorted(
        {pkg for command, pkg in PRINT_TOOLS.items() if shutil.which(command) is None}
        | {pkg for family, pkg in PRINT_FONTS.items() if not font_installed(family)}
    )
    if missing_print:
        if can_apt():
            print(f"bootstrap: installing LibreOffice and poppler to print workbooks: {' '.join(missing_print)}")
            apt_install(tuple(missing_print), recommends=False)
        else:
            print(
                "warning: the print tests need LibreOffice and poppler; install: "
                f"sudo apt-get install -y --no-install-recommends {' '.join(missing_print)}",
                file=sys.stderr,
            )
    if not glob.glob(POSTGRES_BINARIES):
        if can_apt():
            print("bootstrap: installing PostgreSQL for the cluster tests (they start their own server)")
            apt_install(DEBIAN_DATABASE)
        else:
            print(
                "warning: the cluster tests (history on PostgreSQL) need PostgreSQL's server binaries; install: "
                f"sudo apt-get install -y {' '.join(DEBIAN_DATABASE)}",
                file=sys.stderr,
            )
    ensure_cluster_tools()
    print(f"bootstrap: browser {browser}")
    return 0


CLUSTER_TOOLS = {"redis-server": "redis-server"}
"""The broker the Celery tests and ``make demo-cluster`` start on a free port (never a system service)."""


def ensure_cluster_tools() -> None:
    """Debian's redis-server, for tests/cluster and ``make demo-cluster``; a warning when it cannot be installed."""
    missing = sorted({pkg for command, pkg in CLUSTER_TOOLS.items() if shutil.which(command) is None})
    if not missing:
        return
    if can_apt():
        print(f"bootstrap: installing Redis for the Celery workers' tests and demo: {' '.join(missing)}")
        apt_install(tuple(missing), recommends=False)
    else:
        print(
            f"warning: the cluster tests and make demo-cluster need Redis; install: sudo apt-get install -y "
            f"--no-install-recommends {' '.join(missing)}",
            file=sys.stderr,
        )


def find_browser() -> str | None:
    """Where Playwright's Chromium is, or the system one it will drive; None when neither exists."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            options = launch_options(playwright)
        except BrowserMissing:
            return None
        return options.get("executable_path") or f"Playwright's Chromium ({playwright.chromium.executable_path})"


def can_apt() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def apt_install(packages: tuple[str, ...], *, recommends: bool = True) -> None:
    """apt-get install, updating the package lists once when they are missing or stale.

    ``recommends=False`` keeps LibreOffice to its headless core (about 300 MB instead of a desktop).
    """
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    quiet = subprocess.DEVNULL
    command = ["apt-get", "install", "-y", "-qq", *([] if recommends else ["--no-install-recommends"]), *packages]
    result = subprocess.run(command, env=env, check=False, stdout=quiet)
    if result.returncode != 0:  # the package lists may be missing or stale on a fresh machine
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, stdout=quiet)
        subprocess.run(command, env=env, check=True, stdout=quiet)


def font_installed(family: str) -> bool:
    if shutil.which("fc-list") is None:
        return False
    out = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, check=False).stdout
    return family.lower() in out.lower()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        print(
            f"error: `{' '.join(map(str, exc.cmd))}` failed with exit code {exc.returncode}; "
            "install the packages by hand (see above) and run make again",
            file=sys.stderr,
        )
        sys.exit(2)
