"""What is on a page, for people: the closest elements to a selector that matched nothing, and the
``selectors:`` block ``runner.py inspect`` prints.

One round trip collects every form field, button, link, table and element with an id, a name or a test id,
with its role, its accessible name (label, ``aria-label``, text) and whether it is visible. Each gets the
most robust selector that matches it alone: test id, then role and name, then label, then id, then name,
CSS last.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from opskit.browser.selectors import translate

SCAN_JS = r"""
() => {
  const text = (e) => (e.innerText || e.textContent || "").replace(/\s+/g, " ").trim();
  const labelOf = (e) => {
    if (e.getAttribute("aria-label")) return e.getAttribute("aria-label").trim();
    const by = e.getAttribute("aria-labelledby");
    if (by) return by.split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean).map(text).join(" ");
    if (e.labels && e.labels.length) {
      const own = text(e.labels[0]);
      const inner = e.labels[0].contains(e) && e.tagName === "SELECT" ? text(e) : "";
      return (inner && own.endsWith(inner) ? own.slice(0, own.length - inner.length) : own).trim();
    }
    return "";
  };
  const roleOf = (e) => {
    const explicit = e.getAttribute("role");
    if (explicit) return explicit.split(/\s+/)[0];
    const tag = e.tagName.toLowerCase(), type = (e.getAttribute("type") || "text").toLowerCase();
    if (tag === "a") return e.hasAttribute("href") ? "link" : "";
    if (tag === "button" || (tag === "input" && ["button", "submit", "reset", "image"].includes(type))) return "button";
    if (tag === "select") return e.multiple || e.size > 1 ? "listbox" : "combobox";
    if (tag === "textarea") return "textbox";
    if (tag === "table") return "table";
    if (tag === "input") {
      if (type === "checkbox") return "checkbox";
      if (type === "radio") return "radio";
      if (type === "search") return "searchbox";
      if (["number"].includes(type)) return "spinbutton";
      if (["text", "email", "tel", "url", ""].includes(type)) return "textbox";
    }
    return "";
  };
  const wanted = "input:not([type=hidden]), select, textarea, button, a[href], table, [role], [id], [name], "
    + "[data-testid]";
  const out = [];
  const seen = new Set();
  for (const e of document.querySelectorAll(wanted)) {
    if (seen.has(e) || out.length >= 600) continue;
    seen.add(e);
    const tag = e.tagName.toLowerCase();
    const skip = ["html", "body", "head", "script", "style", "meta", "link", "option", "tr", "td", "th", "tbody",
      "thead"];
    if (skip.includes(tag)) continue;
    const rect = e.getBoundingClientRect();
    const style = getComputedStyle(e);
    const visible = rect.width > 0 && rect.height > 0 && style.visibility !== "hidden" && style.display !== "none";
    const role = roleOf(e);
    const label = labelOf(e);
    const named = ["button", "link", "tab", "menuitem", "option", "heading", "checkbox", "radio"];
    const own = named.includes(role) || tag === "button" || tag === "a" ? text(e).slice(0, 80) : "";
    const heads = tag === "table" ? e.querySelectorAll("thead th, tr:first-child th") : [];
    const headers = Array.from(heads).map(text).slice(0, 12);
    out.push({
      tag, role, label, text: own, visible, headers,
      id: e.id || "", name: e.getAttribute("name") || "", testid: e.getAttribute("data-testid") || "",
      type: (e.getAttribute("type") || "").toLowerCase(), placeholder: e.getAttribute("placeholder") || "",
      classes: Array.from(e.classList).slice(0, 3),
      options: tag === "select" ? Array.from(e.options).map((o) => o.label).slice(0, 8) : [],
    });
  }
  return out;
}
"""

FIELD_ROLES = {"textbox", "searchbox", "combobox", "listbox", "checkbox", "radio", "spinbutton"}
_GENERATED_ID = re.compile(r"(\d{3,}|[0-9a-f]{8,}|^:r|^ember|^react|^mui-|__)", re.I)


@dataclass
class Candidate:
    """One element found on the page, with the selector that finds it."""

    tag: str
    role: str = ""
    label: str = ""
    text: str = ""
    visible: bool = True
    id: str = ""
    name: str = ""
    testid: str = ""
    type: str = ""
    placeholder: str = ""
    classes: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    selector: str = ""

    @property
    def accessible_name(self) -> str:
        return self.label or self.text or self.placeholder

    @property
    def kind(self) -> str:
        if self.tag == "table" or self.role in ("table", "grid", "treegrid"):
            return "table"
        if self.role in FIELD_ROLES or self.tag in ("input", "select", "textarea"):
            return "field"
        if self.role == "button":
            return "button"
        if self.role == "link":
            return "link"
        return "other"

    def describe(self) -> str:
        """``textbox "Email"``, ``button "Save"``, ``table (Appeal, Case, ...)``."""
        what = self.role or self.tag
        if self.kind == "table" and self.headers:
            return f"{what} ({', '.join(self.headers[:4])}{', ...' if len(self.headers) > 4 else ''})"
        name = self.accessible_name
        return f"{what} {json.dumps(name[:40], ensure_ascii=False)}" if name else what

    def words(self) -> str:
        """Everything that could name the element, lower-cased, for matching a name against."""
        parts = [self.id, self.name, self.testid, self.label, self.text, self.placeholder, *self.classes]
        return " ".join(_words(p) for p in parts if p)

    def options_for_selectors(self) -> list[str]:
        """Selectors for this element, most robust first (each still to be checked for uniqueness)."""
        found = []
        if self.testid:
            found.append(f"testid={self.testid}")
        name = self.accessible_name
        if self.role and name and self.role not in ("generic", "presentation", "none"):
            found.append(f"role={self.role}[name={json.dumps(name, ensure_ascii=False)}]")
        if self.label and self.kind == "field":
            found.append(f"label={json.dumps(self.label, ensure_ascii=False)}")
        if self.placeholder and self.kind == "field":
            found.append(f"placeholder={json.dumps(self.placeholder, ensure_ascii=False)}")
        if self.id and not _GENERATED_ID.search(self.id) and re.fullmatch(r"[A-Za-z][\w-]*", self.id):
            found.append(f"#{self.id}")
        if self.name and re.fullmatch(r"[\w.-]+", self.name):
            found.append(f"{self.tag}[name={json.dumps(self.name)}]")
        if self.classes:
            found.append(self.tag + "".join(f".{c}" for c in self.classes if re.fullmatch(r"[A-Za-z][\w-]*", c)))
        if self.id:
            found.append(f"#{self.id}" if re.fullmatch(r"[A-Za-z][\w-]*", self.id) else f'[id="{self.id}"]')
        return list(dict.fromkeys(found))


def _words(text: str) -> str:
    """``exportCsv-btn`` -> ``export csv btn``."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def scan(page: Any) -> list[Candidate]:
    """Every element of interest on ``page`` (or a frame), in document order, without selectors yet."""
    return [Candidate(**item) for item in page.evaluate(SCAN_JS)]


def with_selectors(page: Any, candidates: list[Candidate], limit: int | None = None) -> list[Candidate]:
    """Give each candidate the first of its selectors that matches it alone (one count per try).

    Candidates without a unique selector are left out; at most ``limit`` are returned.
    """

    done: list[Candidate] = []
    used: set[str] = set()
    for cand in candidates:
        for option in cand.options_for_selectors():
            if option in used:
                continue
            try:
                if page.locator(translate(option)).count() == 1:
                    cand.selector = option
                    used.add(option)
                    break
            except Exception:  # a selector the engine refuses (odd ids): try the next form
                continue
        if cand.selector:
            done.append(cand)
            if limit is not None and len(done) >= limit:
                break
    return done


def closest(page: Any, wanted: str, *, limit: int = 5) -> list[str]:
    """The elements on ``page`` most like ``wanted`` (a logical name and/or selector), described.

    ``['#flt-from (textbox "From")', ...]``; empty when the page cannot be read.
    """
    try:
        candidates = [c for c in scan(page) if c.kind != "other" or c.id or c.testid]
    except Exception:
        return []
    target = _words(re.sub(r"^(role|label|placeholder|testid|text|css|id)=", "", wanted))
    if not target:
        return []
    scored = []
    for cand in candidates:
        words = cand.words()
        if not words:
            continue
        score = max(
            difflib.SequenceMatcher(None, target, words).ratio(),
            max((difflib.SequenceMatcher(None, target, w).ratio() for w in _phrases(cand)), default=0.0),
        )
        shared = set(target.split()) & set(words.split())
        score += 0.15 * len(shared) + (0.05 if cand.visible else -0.2)
        if score >= 0.45:
            scored.append((score, cand))
    scored.sort(key=lambda item: -item[0])
    best = with_selectors(page, [c for _, c in scored[: limit * 3]], limit=limit)
    return [f"{c.selector} ({c.describe()})" for c in best]


def _phrases(cand: Candidate) -> list[str]:
    return [_words(p) for p in (cand.id, cand.name, cand.testid, cand.label, cand.text, cand.placeholder) if p]
