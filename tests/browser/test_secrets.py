"""Secrets never reach what the browser layer stores, in any encoding; and any server-chosen file name is
saved under a safe one (issue #12, the browser's part)."""

from __future__ import annotations

import html
import json
import logging
import os
import zipfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from opskit.browser import BrowserError
from opskit.browser.downloads import MAX_NAME_BYTES, free_name, safe_filename

PASSWORD = 'desk "pass"&<wörd> +x/1'
TOKEN = 'tok en&<"ü">+/=42'
MASK_COLOR = (1.0, 0.0, 1.0)  # Playwright's default mask colour, #FF00FF


def encodings(secret: str) -> dict[str, bytes]:
    """Every form the test looks for: raw, URL-encoded both ways, HTML-escaped, JSON-escaped."""
    forms = {
        "raw": secret,
        "url %20": quote(secret, safe=""),
        "url +": quote_plus(secret),
        "html": html.escape(secret),
        "html (text)": html.escape(secret, quote=False),
        "json": json.dumps(secret)[1:-1],
        "json (utf-8)": json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return {k: v.encode("utf-8") for k, v in forms.items()}


def every_file(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, and every member of every zip there (traces), by name."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            found[str(path)] = path.read_bytes()
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as archive:
                    for member in archive.namelist():
                        found[f"{path}!{member}"] = archive.read(member)
    return found


@pytest.mark.browser
def test_no_secret_in_any_artifact_in_any_encoding(make_desk, desk_ctx, monkeypatch, caplog, tmp_path):
    from matplotlib.image import imread

    caplog.set_level(logging.INFO, logger="opskit")
    desk = make_desk(password=PASSWORD)
    monkeypatch.setenv("TEST_DESK_TOKEN", TOKEN)
    ctx = desk_ctx(desk, browser={"trace": True, "action_timeout": "2s"})
    with pytest.raises(BrowserError), ctx.browser("desk") as s:
        s.goto(desk.route("appeals"))
        s.table("table.grid")  # signed in (the sign-in itself is not traced)
        token = ctx.secret("TEST_DESK_TOKEN")
        s.goto(desk.route("search") + "?q=" + quote(token, safe=""))  # navigated with a secret ...
        assert token in s.text(".results")  # ... which the page shows
        s.goto(desk.route("appeals/AP-0001"))
        s.fill("label=Note", token)  # typed after sign-in
        box = s.page.get_by_label("Note").bounding_box()
        s.click('role=button[name="No such button"]')  # fails: the failure folder is written

    failure = ctx.folder / "failure"
    assert {"screenshot.png", "page.html", "error.txt", "step.json", "trace.zip", "trace-1.zip"} <= {
        p.name for p in failure.iterdir()
    }
    files = every_file(tmp_path / "var")  # run folders, saved sign-ins, traces unzipped
    traces = {k: v for k, v in files.items() if ".zip!" in k}
    assert any(b"#/search" in v for v in traces.values()), "the trace recorded the run after the sign-in"
    assert any(b"***" in v for v in traces.values()), "secrets in the trace were replaced"
    assert not [k for k, v in traces.items() if b"/api/login" in v], "the sign-in post is never traced"
    leaks = [
        (secret_name, form, name)
        for secret_name, secret in (("password", PASSWORD), ("token", TOKEN))
        for form, needle in encodings(secret).items()
        for name, data in [*files.items(), ("log", caplog.text.encode())]
        if needle in data
    ]
    assert leaks == []
    assert "open /#/search?q=*** in " in caplog.text  # the step was logged, the secret in its URL was not
    # the field the token was typed into is painted over in the screenshot
    pixels = imread(failure / "screenshot.png")
    x, y = int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2)
    assert tuple(round(float(c), 2) for c in pixels[y, x][:3]) == MASK_COLOR


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.csv", "report.csv"),
        ("../../etc/passwd", "passwd"),
        ("a\\b\\evil.xlsx", "evil.xlsx"),
        ("bell\x07\r\nname.csv", "bell___name.csv"),
        ('what<>:"|?*.csv', "what_______.csv"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        (".hidden.csv", "hidden.csv"),
        ("..", "download"),
        ("", "download"),
        ("   ", "download"),
        ("archive.tar.gz", "archive.tar.gz"),
        ("right\u202eto\u200bleft.csv", "right_to_left.csv"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


@pytest.mark.parametrize("stem", ["a" * 1000, "é" * 400, "名" * 300])
def test_a_name_too_long_for_the_file_system_is_cut_keeping_its_extension(stem, tmp_path):
    name = safe_filename(stem + ".xlsx")
    assert name.endswith(".xlsx") and len(name.encode()) <= MAX_NAME_BYTES
    assert name.encode().decode() == name  # cut on a character, never inside one
    target = free_name(tmp_path / name)
    target.write_text("x")  # the file system takes it, and its temporary name too
    taken = free_name(tmp_path / name)
    assert taken.name.endswith("-2.xlsx") and len(taken.name.encode()) <= MAX_NAME_BYTES + 4
    assert len(f".{taken.name}.abcdefgh.part".encode()) <= os.pathconf(tmp_path, "PC_NAME_MAX")
