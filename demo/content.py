"""User content for the synthetic cases: ordinary text, and the hostile strings DOMAIN.md names.

Content from users is hostile by nature: every text field the console shows or exports
(``content_text`` and ``username`` on cases) mixes ordinary text with markup, formula starters,
control characters, right-to-left and CJK scripts, emoji and very long strings. ``HOSTILE_TEXTS``
and ``HOSTILE_USERNAMES`` are public so tests can check that each one survives a round trip and
never runs as markup or a formula.
"""

from __future__ import annotations

import numpy as np

LONG_LATIN = ("Lorem ipsum dolor sit amet <b>consectetur</b> adipiscing elit. " * 100)[:6000]
LONG_CJK = ("这是一个很长的评论，用于测试表格和电子邮件的换行。" * 300)[:5200]

HOSTILE_TEXTS: tuple[str, ...] = (
    "<script>alert('xss')</script>",
    "<img src=x onerror=alert(1)>",
    'nice post <a href="https://evil.example/login">claim your prize</a>',
    "visit https://phish.example.com/reset?u=1&t=2 now",
    '=HYPERLINK("https://evil.example","click me")',
    "=1+2",
    "+49 30 1234567 call me",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=cmd|' /C calc'!A0",
    "\rline after a carriage return",
    "first line\nsecond line",
    "great video 😂🔥👍🏽",
    "هذا تعليق مسيء جدا",
    "זה תגובה פוגענית",
    "mixed العربية and English עברית",
    "这个视频太假了，举报",
    "這是繁體中文的留言",
    "香港的朋友你好",
    '"quoted", with; separators',
    LONG_LATIN,
    LONG_CJK,
)

HOSTILE_USERNAMES: tuple[str, ...] = (
    '=HYPERLINK("https://evil.example","admin")',
    "@admin",
    "+15551234567",
    "-rm_rf",
    "<b>bold_user</b>",
    "<script>x</script>",
    "محمد_علي",
    "שלום_עולם",
    "李小龙",
    "🔥fire_fan🔥",
    "\tindented",
    "user\rname",
)

_WORDS = (
    "video",
    "song",
    "recipe",
    "match",
    "phone",
    "deal",
    "giveaway",
    "crypto",
    "news",
    "election",
    "football",
    "makeup",
    "game",
    "movie",
    "travel",
    "dog",
    "cat",
    "loan",
    "job",
    "dating",
)
_COMMENT_TEMPLATES = (
    "this {w} is amazing",
    "worst {w} ever, total scam",
    "who else came here for the {w}?",
    "I can't believe the {w} part",
    "follow me for more {w} tips",
    "lol the {w} at 1:23",
    "stop posting fake {w} content",
    "dm me about the {w}",
    "{w} {w} {w}!!!",
    "where can I buy this {w}",
)
_SEARCH_TEMPLATES = (
    "{w}",
    "free {w}",
    "{w} leaked",
    "how to get {w}",
    "{w} near me",
    "best {w} 2026",
)
_MESSAGE_TEMPLATES = (
    "hey, saw your {w} post",
    "send me money for the {w}",
    "are you still selling the {w}?",
    "click this link for {w}",
    "hi :) want to talk about {w}?",
)
_ACCOUNT_TEMPLATES = (
    "Bio: official {w} store",
    "Bio: {w} lover | DM for collabs",
    "Display name: Real {w} Support",
    "Bio: earn $$$ with {w}",
    "Profile reported for {w} impersonation",
)
TEMPLATES_BY_CHANNEL = {
    "search": _SEARCH_TEMPLATES,
    "comment": _COMMENT_TEMPLATES,
    "messaging": _MESSAGE_TEMPLATES,
    "account": _ACCOUNT_TEMPLATES,
}
_ADJ = ("happy", "dark", "blue", "quick", "lazy", "real", "sunny", "wild", "tiny", "brave")
_NOUN = ("fox", "panda", "tiger", "otter", "eagle", "lion", "koala", "wolf", "bear", "owl")


def text_pool(rng: np.random.Generator, channel: str, size: int = 200) -> list[str]:
    """Ordinary user text for one channel: `size` strings built from templates."""
    templates = TEMPLATES_BY_CHANNEL[channel]
    t_idx = rng.integers(0, len(templates), size)
    w_idx = rng.integers(0, len(_WORDS), size)
    return [templates[t].format(w=_WORDS[w]) for t, w in zip(t_idx, w_idx, strict=True)]


def username_pool(rng: np.random.Generator, size: int = 3000) -> list[str]:
    """Ordinary usernames such as ``sunny_otter4821``."""
    a = rng.integers(0, len(_ADJ), size)
    b = rng.integers(0, len(_NOUN), size)
    n = rng.integers(0, 10_000, size)
    return [f"{_ADJ[i]}_{_NOUN[j]}{k}" for i, j, k in zip(a, b, n, strict=True)]
