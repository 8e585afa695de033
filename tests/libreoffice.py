"""LibreOffice headless as a second, independent reader of the workbooks opskit writes (installed by the
bootstrap). Each call uses a private profile, so tests never clash with another soffice on the machine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def convert(paths: list[Path], out: Path, fmt: str = "pdf") -> dict[Path, Path]:
    """Each file converted by LibreOffice to ``fmt`` (pdf, xlsx, csv) in ``out``; the converted paths."""
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is missing: `make test` installs it (scripts/bootstrap.sh)"
    out.mkdir(parents=True, exist_ok=True)
    profile = out / ".lo-profile"
    result = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", fmt, "--outdir", str(out)]
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    converted = {p: out / f"{p.stem}.{fmt}" for p in paths}
    missing = [str(p) for p, c in converted.items() if not c.is_file()]
    assert not missing, f"LibreOffice did not convert {missing}: {result.stdout} {result.stderr}"
    return converted
