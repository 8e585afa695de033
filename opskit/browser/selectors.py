"""Logical element names to Playwright selectors, and the selector forms config.yaml may use.

A task says ``s.click("save_button")``; the source's ``selectors`` map (over ``DEFAULT_SELECTORS``) says
what that is. A value is CSS, or one of these forms, which survive restyling better than CSS:

| form | matches |
|---|---|
| ``role=button[name="Save"]`` | an element by ARIA role and accessible name (Playwright's role engine) |
| ``label=Email`` | a form field by the text of its label (also ``aria-label``) |
| ``placeholder=Search`` | a field by its placeholder |
| ``testid=save`` | ``[data-testid="save"]`` |
| ``text=Save`` | an element by its text (Playwright's text engine) |
| ``xpath=//...``, ``css=...``, ``id=...`` | Playwright's own engines |

Text in ``label=``/``placeholder=`` matches case-insensitively and as a substring; put it in double quotes
for an exact match (``label="Email"``). Selectors can be chained with ``>>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from opskit.errors import UsageError, did_you_mean

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
PASS_THROUGH = ("role=", "text=", "xpath=", "css=", "id=", "data-testid=", "internal:", "nth=", "visible=")
_OURS = {"label=": "label", "placeholder=": "placeholder", "testid=": "testid"}


def translate(selector: str) -> str:
    """Our selector forms as Playwright selectors (each part of a ``>>`` chain); others unchanged."""
    return " >> ".join(_translate_one(part.strip()) for part in selector.split(" >> "))


def _translate_one(part: str) -> str:
    for prefix, kind in _OURS.items():
        if part.startswith(prefix):
            value = part[len(prefix) :].strip()
            exact = len(value) >= 2 and value[0] == value[-1] == '"'
            text = json.loads(value) if exact else value
            quoted = json.dumps(text, ensure_ascii=False) + ("s" if exact else "i")
            if kind == "label":
                return f"internal:label={quoted}"
            if kind == "placeholder":
                return f"internal:attr=[placeholder={quoted}]"
            return f"internal:testid=[data-testid={json.dumps(text, ensure_ascii=False)}s]"
    return part


HTML_TAGS = frozenset(
    "a article aside button caption details dialog div dl fieldset figure footer form h1 h2 h3 h4 h5 h6 header "
    "iframe img input label legend li main nav ol option p pre section select span strong summary table tbody "
    "td textarea tfoot th thead time tr ul".split()
)
"""Bare tag names that are CSS, not logical names (``s.text("h1")``)."""


def looks_like_selector(text: str) -> bool:
    """Whether ``text`` is a selector (CSS, a tag name or a ``form=``), not a logical name."""
    return not NAME.fullmatch(text) or text in HTML_TAGS or text.startswith(tuple(_OURS) + PASS_THROUGH)


class SelectorMap:
    """The selectors of one source: ``resolve("save_button")`` -> a Playwright selector.

    Args:
        source: The source's name (for messages).
        selectors: Logical names to selectors (``BrowserSettings.selector_map()``).
    """

    def __init__(self, source: str, selectors: Mapping[str, str]):
        self.source = source
        self.selectors = dict(selectors)

    def resolve(self, name: str) -> str:
        """The Playwright selector for a logical name; a selector passes through (translated).

        Raises:
            UsageError: a name that is not in the map (with a "did you mean").
        """
        if name in self.selectors:
            return translate(self.selectors[name])
        if looks_like_selector(name):
            return translate(name)
        raise UsageError(
            f"unknown selector name '{name}' for source '{self.source}'",
            hint=did_you_mean(name, self.selectors) or f"Add it under sources.{self.source}.browser.selectors",
        )

    def shown(self, name: str) -> str:
        """What a message calls the element: the name and its selector, or the selector alone."""
        if name in self.selectors:
            return self.selectors[name]
        return name
