"""Generate the Moderation Console's synthetic data set into a SQLite file.

The data follow shared/docs/DOMAIN.md: queues, labels, moderators, cases, shifts and weekly targets,
with times in UTC as ``YYYY-MM-DDTHH:MM:SSZ`` text. Generation is vectorised with numpy and
deterministic for a seed: the same arguments always give byte-for-byte the same rows.

How the cases come about:

- Arrivals per queue and day are Poisson around the queue's volume, times a weekday factor; within a
  day they follow an hourly curve in the market's local time (evening peak).
- Each queue has an hourly capacity, lower on weekends. A fluid queue model (backlog carried hour to
  hour) gives each case its wait, so peaks and weekends build backlog and breach SLAs.
- ``handle_seconds`` is log-normal, its median set by channel, queue, vendor and tenure.
- Cases not finished by the end of the data stay open (``completed_at`` NULL).

The built-in story (see demo/README.md): in the last full ISO week, vendor ``STORY_VENDOR`` handles
every case ``STORY_AHT_FACTOR`` times slower (a rate effect), and the ``STORY_CHANNEL`` channel, the
slowest, gets ``STORY_VOLUME_FACTOR`` times its usual volume (a mix effect).

Run it::

    python -m demo.generate --db data/console.db --seed 7 --days 28 --start 2026-10-19 --scale 50000
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from demo import content
from demo.db import INDEXES, SCHEMA

STORY_VENDOR = "Lumen BPO"
STORY_CHANNEL = "account"
STORY_AHT_FACTOR = 1.45
STORY_VOLUME_FACTOR = 1.7
STORY_CAPACITY_FACTOR = 1.45  # the ops team added some capacity to the busier channel, not enough

# channel: (share of volume, median handle seconds, SLA hours)
CHANNELS = {
    "search": (0.35, 35.0, 4.0),
    "comment": (0.40, 75.0, 24.0),
    "messaging": (0.15, 130.0, 4.0),
    "account": (0.10, 300.0, 48.0),
}
# (channel, market, policy_area); market weights set each queue's share within its channel
QUEUES = (
    ("search", "ID", "spam"),
    ("search", "BR", "adult"),
    ("search", "DE", "hate"),
    ("search", "US", "misinformation"),
    ("search", "CN", "violent_extremism"),
    ("search", "TW", "adult"),
    ("search", "HK", "spam"),
    ("search", "JP", "adult"),
    ("comment", "ID", "hate"),
    ("comment", "BR", "harassment"),
    ("comment", "DE", "hate"),
    ("comment", "US", "harassment"),
    ("comment", "US", "misinformation"),
    ("comment", "TW", "harassment"),
    ("comment", "HK", "hate"),
    ("comment", "SA", "violent_extremism"),
    ("comment", "IL", "hate"),
    ("comment", "MX", "spam"),
    ("messaging", "ID", "fraud"),
    ("messaging", "BR", "fraud"),
    ("messaging", "DE", "harassment"),
    ("messaging", "US", "child_safety"),
    ("messaging", "CN", "fraud"),
    ("messaging", "JP", "harassment"),
    ("account", "ID", "impersonation"),
    ("account", "BR", "fraud"),
    ("account", "US", "impersonation"),
    ("account", "DE", "fraud"),
    ("account", "HK", "impersonation"),
    ("account", "TR", "spam"),
)
MARKETS = {  # market: (UTC offset hours, volume weight)
    "ID": (7, 1.6),
    "BR": (-3, 1.5),
    "DE": (1, 0.9),
    "US": (-5, 1.8),
    "CN": (8, 0.7),
    "TW": (8, 0.6),
    "HK": (8, 0.5),
    "JP": (9, 0.8),
    "SA": (3, 0.5),
    "IL": (2, 0.3),
    "MX": (-6, 0.7),
    "TR": (3, 0.4),
}
LABELS = {  # policy_area: ((label, severity), ...)
    "spam": (("spam.commercial", 1), ("spam.repetitive", 1), ("spam.scam_link", 2)),
    "adult": (("adult.nudity", 2), ("adult.sexual_solicitation", 3)),
    "hate": (("hate.slur", 3), ("hate.dehumanisation", 3), ("hate.symbol", 2)),
    "harassment": (("harassment.insult", 1), ("harassment.threat", 3), ("harassment.doxxing", 4)),
    "misinformation": (
        ("misinfo.health", 3),
        ("misinfo.civic", 3),
        ("misinfo.manipulated_media", 2),
    ),
    "violent_extremism": (("ve.praise", 4), ("ve.recruitment", 4)),
    "fraud": (("fraud.phishing", 3), ("fraud.investment", 3), ("fraud.fake_goods", 2)),
    "child_safety": (("cs.grooming", 4), ("cs.exploitation", 4)),
    "impersonation": (("imp.public_figure", 2), ("imp.brand", 2), ("imp.private_person", 3)),
}
# vendor: (sites, handle-time factor, QA accuracy)
VENDORS = {
    "in-house": (("Dublin", "Singapore"), 0.95, 0.96),
    "Lumen BPO": (("Manila", "Cebu"), 1.00, 0.93),
    "Northwind Services": (("Kuala Lumpur",), 1.10, 0.91),
    "Atlas CX": (("Lisbon", "São Paulo"), 1.05, 0.94),
    "Kestrel Moderation": (("Hyderabad", "Bogotá"), 1.20, 0.89),
}
ROUTING = {  # channel: {vendor: share of the channel's cases}
    "search": {"Lumen BPO": 0.5, "Northwind Services": 0.3, "Atlas CX": 0.2},
    "comment": {"Lumen BPO": 0.45, "Atlas CX": 0.3, "Northwind Services": 0.25},
    "messaging": {"in-house": 0.4, "Atlas CX": 0.3, "Kestrel Moderation": 0.3},
    "account": {"in-house": 0.5, "Kestrel Moderation": 0.5},
}
DECISIONS = ("approve", "remove", "restrict", "escalate")
DECISION_P = {  # channel: probabilities in DECISIONS order
    "search": (0.60, 0.30, 0.07, 0.03),
    "comment": (0.55, 0.33, 0.08, 0.04),
    "messaging": (0.50, 0.30, 0.12, 0.08),
    "account": (0.45, 0.25, 0.20, 0.10),
}
WEEKDAY_FACTOR = np.array([1.0, 0.96, 0.97, 1.0, 1.06, 1.22, 1.16])  # Monday first
# arrivals by local hour: quiet at night, a lunchtime bump, an evening peak
HOURLY = np.array([3, 2, 1.5, 1, 1, 1.5, 2.5, 4, 5, 5.5, 6, 6.5, 7, 6.5, 6, 6, 6.5, 7, 8, 9, 9.5, 8.5, 6.5, 4.5])
HOURLY = HOURLY / HOURLY.sum()
QA_RATE = 0.05
CHUNK = 100_000


@dataclass(frozen=True, slots=True)
class GenerateSummary:
    """What ``generate`` wrote."""

    db_path: Path
    cases: int
    open_cases: int
    queues: int
    moderators: int
    shifts: int
    targets: int
    start: date
    end: date  # exclusive: the data cover [start, end)
    seconds: float


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _ts_text(seconds: np.ndarray, missing: np.ndarray | None = None) -> list[str | None]:
    """Epoch seconds to 'YYYY-MM-DDTHH:MM:SSZ' text; None where ``missing``."""
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s", timezone="UTC")
    out = text.astype(object)
    if missing is not None:
        out[missing] = None
    return out.tolist()


def _reference(rng: np.random.Generator) -> dict:
    """Queues, labels, and the per-queue constants the case generation needs."""
    queues = []
    for i, (channel, market, area) in enumerate(QUEUES):
        sla = 1.0 if area == "child_safety" else CHANNELS[channel][2]
        severity = max(s for _, s in LABELS[area])
        queues.append(
            {
                "queue_id": f"{channel}-{market.lower()}-{area.replace('_', '-')}",
                "name": f"{channel.title()} {market} · {area.replace('_', ' ').title()}",
                "channel": channel,
                "market": market,
                "policy_area": area,
                "sla_hours": sla,
                "priority": 5 - severity,
                "index": i,
            }
        )
    labels = [(label, area, sev) for area, items in LABELS.items() for label, sev in items]
    return {"queues": queues, "labels": labels, "queue_factor": rng.uniform(0.8, 1.25, len(queues))}


def _moderators(rng: np.random.Generator, n_total: int) -> dict:
    """Moderators per vendor in proportion to the vendor's share of the volume."""
    share = {v: 0.0 for v in VENDORS}
    for channel, routes in ROUTING.items():
        for vendor, w in routes.items():
            share[vendor] += CHANNELS[channel][0] * w
    ids: list[str] = []
    vendor_of: list[int] = []
    sites: list[str] = []
    tenure: list[int] = []
    for v_idx, (vendor, (v_sites, _, _)) in enumerate(VENDORS.items()):
        n = max(4, round(n_total * share[vendor]))
        site_idx = rng.integers(0, len(v_sites), n)
        tenure_days = np.clip(rng.lognormal(np.log(300), 0.9, n), 5, 3000).astype(int)
        for k in range(n):
            ids.append(f"M{len(ids) + 1:05d}")
            vendor_of.append(v_idx)
            sites.append(v_sites[site_idx[k]])
            tenure.append(int(tenure_days[k]))
    return {"ids": ids, "vendor": np.array(vendor_of), "site": sites, "tenure": np.array(tenure)}


def generate(
    db_path: str | Path,
    *,
    seed: int = 7,
    days: int = 28,
    start: date | str = date(2026, 10, 19),
    scale: int = 20_000,
) -> GenerateSummary:
    """Write a fresh data set of about ``scale`` cases over ``days`` days from ``start`` (UTC).

    Args:
        db_path: The SQLite file; replaced if it exists (written to a temporary name, then moved).
        seed: Same seed, same rows.
        days: Length of the data in days; the story needs at least 14, ideally whole ISO weeks.
        start: First day (UTC); use a Monday so the weeks are ISO weeks.
        scale: Expected number of cases; from a few hundred (tests) to millions (benchmarks).
    """
    t0 = time.perf_counter()
    start = _as_date(start)
    rng = np.random.default_rng(seed)
    ref = _reference(rng)
    queues = ref["queues"]
    n_q, n_hours = len(queues), days * 24
    t_start = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
    t_end = t_start + days * 86400
    story_day0 = max(0, days - 7 - (date.fromordinal(start.toordinal() + days).weekday()) % 7)
    story_days = np.arange(days) >= story_day0  # the last full ISO week (the last 7 days if whole)

    # -- arrivals: expected cases per queue and day, Poisson counts, then an hour and second each
    ch_of_q = np.array([list(CHANNELS).index(q["channel"]) for q in queues])
    weights = np.array([MARKETS[q["market"]][1] for q in queues]) * ref["queue_factor"]
    q_share = np.zeros(n_q)
    for c_idx, (_, (share, _, _)) in enumerate(CHANNELS.items()):
        mask = ch_of_q == c_idx
        q_share[mask] = share * weights[mask] / weights[mask].sum()
    weekday = (np.arange(days) + start.weekday()) % 7
    day_factor = WEEKDAY_FACTOR[weekday] / WEEKDAY_FACTOR[weekday].mean()
    story_q = ch_of_q == list(CHANNELS).index(STORY_CHANNEL)
    lam = (scale / days) * q_share[:, None] * day_factor[None, :]
    lam[np.ix_(story_q, story_days)] *= STORY_VOLUME_FACTOR
    lam *= scale / lam.sum()
    counts = rng.poisson(lam)  # (queue, day)
    n = int(counts.sum())
    q_idx = np.repeat(np.repeat(np.arange(n_q), days), counts.ravel())
    d_idx = np.repeat(np.tile(np.arange(days), n_q), counts.ravel())
    offsets = np.array([MARKETS[q["market"]][0] for q in queues])
    cum = np.cumsum(HOURLY)
    local_hour = np.minimum(np.searchsorted(cum, rng.random(n)), 23)
    utc_hour = (local_hour - offsets[q_idx]) % 24
    created = t_start + d_idx * 86400 + utc_hour * 3600 + rng.integers(0, 3600, n)
    order = np.argsort(created, kind="stable")
    q_idx, created = q_idx[order], created[order]
    hour = (created - t_start) // 3600

    # -- waits from a fluid queue: hourly capacity per queue, backlog carried from hour to hour
    arrivals = np.bincount(q_idx * n_hours + hour, minlength=n_q * n_hours).reshape(n_q, n_hours)
    base_days = ~story_days if story_days.any() and (~story_days).any() else np.ones(days, bool)
    base_rate = arrivals.reshape(n_q, days, 24)[:, base_days, :].sum(axis=(1, 2)) / (base_days.sum() * 24)
    h_of_day = np.arange(n_hours) % 24
    staffing = 0.75 + 0.5 * (HOURLY[h_of_day] / HOURLY.max())
    weekend = np.repeat(np.where(weekday >= 5, 0.85, 1.0), 24)
    capacity = base_rate[:, None] * 1.12 * staffing[None, :] * weekend[None, :] / staffing.mean()
    capacity[np.ix_(story_q, np.repeat(story_days, 24))] *= STORY_CAPACITY_FACTOR
    backlog_start = np.zeros((n_q, n_hours))
    backlog = np.zeros(n_q)
    for h in range(n_hours):
        backlog_start[:, h] = backlog
        backlog = np.maximum(0.0, backlog + arrivals[:, h] - capacity[:, h])
    sla = np.array([q["sla_hours"] for q in queues])
    wait_h = backlog_start[q_idx, hour] / np.maximum(capacity[q_idx, hour], 1e-3)
    wait_h += rng.exponential(0.08 * sla[q_idx])
    assigned = created + (wait_h * 3600).astype(np.int64) + rng.integers(5, 120, n)

    # -- who handles it, and how long it takes
    n_mods = max(30, round(scale / days / 160))  # ~160 cases a moderator a day
    mods = _moderators(rng, n_mods)
    vendor_names = list(VENDORS)
    vendor = np.empty(n, dtype=np.int64)
    u = rng.random(n)
    for c_idx, channel in enumerate(CHANNELS):
        mask = ch_of_q[q_idx] == c_idx
        routes = ROUTING[channel]
        edges = np.cumsum(list(routes.values()))
        pick = np.minimum(np.searchsorted(edges, u[mask] * edges[-1]), len(routes) - 1)
        vendor[mask] = np.array([vendor_names.index(v) for v in routes])[pick]
    moderator = np.empty(n, dtype=np.int64)
    u = rng.random(n)
    for v_idx in range(len(vendor_names)):
        pool = np.flatnonzero(mods["vendor"] == v_idx)
        mask = vendor == v_idx
        moderator[mask] = pool[(u[mask] * len(pool)).astype(np.int64)]
    # planned days off (3%): the day's cases go to the next moderator of the same vendor
    n_mod_total = len(mods["ids"])
    absent_plan = rng.random(n_mod_total * days) < 0.03
    next_in_pool = np.arange(n_mod_total)
    for v_idx in range(len(vendor_names)):
        pool = np.flatnonzero(mods["vendor"] == v_idx)
        next_in_pool[pool] = np.roll(pool, -1)
    a_day_all = np.minimum((assigned - t_start) // 86400, days - 1)
    for _ in range(4):
        hit = absent_plan[moderator * days + a_day_all]
        moderator[hit] = next_in_pool[moderator[hit]]
    tenure = mods["tenure"][moderator]
    tenure_factor = np.select([tenure < 90, tenure < 365], [1.3, 1.08], 0.95)
    v_factor = np.array([VENDORS[v][1] for v in vendor_names])
    median = (
        np.array([c[1] for c in CHANNELS.values()])[ch_of_q[q_idx]]
        * ref["queue_factor"][q_idx]
        * v_factor[vendor]
        * tenure_factor
    )
    story_vendor = vendor == vendor_names.index(STORY_VENDOR)
    a_day = (assigned - t_start) // 86400
    in_story_week = (a_day >= story_day0) & (a_day < days)
    median = np.where(story_vendor & in_story_week, median * STORY_AHT_FACTOR, median)
    handle = np.clip(np.round(rng.lognormal(np.log(median), 0.55)), 5, 7200).astype(np.int64)
    completed = assigned + handle
    is_open = completed >= t_end
    unassigned = assigned >= t_end

    # -- outcomes
    u = rng.random(n)
    cum_p = np.cumsum(np.array([DECISION_P[c] for c in CHANNELS]), axis=1)[ch_of_q[q_idx]]
    decision = np.minimum((u[:, None] > cum_p[:, :-1]).sum(axis=1), 3)
    area_of_q = [q["policy_area"] for q in queues]
    label_names = [lab[0] for lab in ref["labels"]]
    first = np.array([label_names.index(LABELS[a][0][0]) for a in area_of_q])
    n_labels = np.array([len(LABELS[a]) for a in area_of_q])
    label = first[q_idx] + (rng.random(n) * n_labels[q_idx]).astype(np.int64)
    done = ~is_open
    accuracy = np.array([VENDORS[v][2] for v in vendor_names])[vendor] - np.where(tenure < 90, 0.04, 0.0)
    qa_sampled = done & (rng.random(n) < QA_RATE)
    qa_pending = qa_sampled & (rng.random(n) < 0.05)  # sampled, not reviewed yet
    qa_correct = rng.random(n) < accuracy
    escalated = done & ((decision == 3) | (rng.random(n) < 0.01))
    appealed = done & np.isin(decision, (1, 2)) & (rng.random(n) < 0.08)
    overturned = appealed & (rng.random(n) < 0.12 + 2.0 * (1 - accuracy))

    # -- user content: ordinary pools per channel, hostile strings sprinkled in (each at least
    # twice)
    pools = [content.text_pool(rng, c) for c in CHANNELS]
    text_pool = [t for p in pools for t in p] + list(content.HOSTILE_TEXTS)
    pool_size = len(pools[0])
    text_idx = ch_of_q[q_idx] * pool_size + rng.integers(0, pool_size, n)
    n_hostile = len(content.HOSTILE_TEXTS)
    h_weights = np.array([0.02 if len(t) > 5000 else 1.0 for t in content.HOSTILE_TEXTS])
    hostile = rng.random(n) < 0.06
    text_idx[hostile] = (
        len(text_pool) - n_hostile + rng.choice(n_hostile, int(hostile.sum()), p=h_weights / h_weights.sum())
    )
    names = content.username_pool(rng) + list(content.HOSTILE_USERNAMES)
    name_idx = rng.integers(0, len(names) - len(content.HOSTILE_USERNAMES), n)
    hostile_names = rng.random(n) < 0.03
    name_idx[hostile_names] = (
        len(names)
        - len(content.HOSTILE_USERNAMES)
        + rng.integers(0, len(content.HOSTILE_USERNAMES), int(hostile_names.sum()))
    )
    guaranteed = rng.choice(n, size=min(n, 2 * (n_hostile + len(content.HOSTILE_USERNAMES))), replace=False)
    for k, pos in enumerate(guaranteed):
        text_idx[pos] = len(text_pool) - n_hostile + k % n_hostile
        name_idx[pos] = len(names) - len(content.HOSTILE_USERNAMES) + k % len(content.HOSTILE_USERNAMES)

    shifts = _shifts(rng, moderator[done], (completed[done] - t_start) // 86400, handle[done], absent_plan, days)
    cases = {
        "q_idx": q_idx,
        "created": created,
        "assigned": assigned,
        "completed": completed,
        "moderator": moderator,
        "vendor": vendor,
        "decision": decision,
        "label": label,
        "handle": handle,
        "is_open": is_open,
        "unassigned": unassigned,
        "qa_sampled": qa_sampled,
        "qa_pending": qa_pending,
        "qa_correct": qa_correct,
        "escalated": escalated,
        "appealed": appealed,
        "overturned": overturned,
        "text_idx": text_idx,
        "name_idx": name_idx,
    }
    targets = _targets(rng, ref, cases, shifts, mods, t_start, start, days)
    meta = {
        "seed": str(seed),
        "days": str(days),
        "scale": str(scale),
        "start": start.isoformat(),
        "end": (start + timedelta(days=days)).isoformat(),
        "time_format": "YYYY-MM-DDTHH:MM:SSZ (UTC)",
        "story_vendor": STORY_VENDOR,
        "story_channel": STORY_CHANNEL,
        "story_week_start": (start + timedelta(days=int(story_day0))).isoformat(),
    }
    db_path = Path(db_path)
    _write(db_path, ref, mods, cases, text_pool, names, shifts, targets, meta, t_start)
    return GenerateSummary(
        db_path=db_path,
        cases=n,
        open_cases=int(is_open.sum()),
        queues=n_q,
        moderators=len(mods["ids"]),
        shifts=len(shifts[0]),
        targets=len(targets),
        start=start,
        end=start + timedelta(days=days),
        seconds=time.perf_counter() - t0,
    )


def _shifts(rng, moderator, day, handle, absent_plan, days: int) -> tuple[np.ndarray, ...]:
    """One shift per moderator and day worked, plus the planned whole-day absences.

    Productive time is the day's handle time over a utilisation of 72-90%; training, meetings and
    wellness take a share of the scheduled time on top, so scheduled = productive + shrinkage.
    """
    key = moderator * days + day
    size = len(absent_plan)
    handled = np.bincount(key, weights=handle, minlength=size)
    worked = handled > 0
    productive = np.round(handled / rng.uniform(0.72, 0.90, size)).astype(np.int64)
    frac_training = np.where(rng.random(size) < 0.3, rng.uniform(0.03, 0.12, size), 0.0)
    frac_meeting = rng.uniform(0.02, 0.06, size)
    frac_wellness = rng.uniform(0.02, 0.05, size)
    scheduled_f = productive / (1 - frac_training - frac_meeting - frac_wellness)
    training = np.round(frac_training * scheduled_f).astype(np.int64)
    meeting = np.round(frac_meeting * scheduled_f).astype(np.int64)
    wellness = np.round(frac_wellness * scheduled_f).astype(np.int64)
    absence = np.zeros(size, dtype=np.int64)
    absent = ~worked & absent_plan
    absence[absent] = 8 * 3600
    keep = worked | absent
    for arr in (productive, training, meeting, wellness):
        arr[absent] = 0
    scheduled = productive + training + meeting + wellness + absence
    keys = np.flatnonzero(keep)
    return (
        keys // days,
        keys % days,
        scheduled[keep],
        productive[keep],
        training[keep],
        meeting[keep],
        wellness[keep],
        absence[keep],
    )


def _targets(rng, ref, cases, shifts, mods, t_start: int, start: date, days: int) -> list[tuple]:
    """Weekly targets per queue, vendor and globally, near the baseline: some met, some missed."""
    queues, vendor_names = ref["queues"], list(VENDORS)
    done = ~cases["is_open"]
    c_day = (cases["completed"] - t_start) // 86400
    base = done & (c_day < max(7, days - 7))
    sla = np.array([q["sla_hours"] for q in queues]) * 3600
    in_sla = (cases["completed"] - cases["created"]) <= sla[cases["q_idx"]]

    def mean_by(groups, values, n_groups):
        total = np.bincount(groups[base], weights=values[base], minlength=n_groups)
        count = np.bincount(groups[base], minlength=n_groups)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    aht_q = mean_by(cases["q_idx"], cases["handle"], len(queues))
    aht_v = mean_by(cases["vendor"], cases["handle"], len(vendor_names))
    done_v = np.bincount(cases["vendor"][base], minlength=len(vendor_names))
    s_mod, s_day, _, s_prod = shifts[:4]
    s_base = s_day < max(7, days - 7)
    prod_v = np.bincount(mods["vendor"][s_mod[s_base]], weights=s_prod[s_base], minlength=len(vendor_names))
    uph_v = np.where(prod_v > 0, done_v / np.maximum(prod_v / 3600, 1e-9), np.nan)
    aht_all = cases["handle"][base].mean() if base.any() else 60.0
    weeks = sorted({(start + timedelta(days=d)).isocalendar()[:2] for d in range(days)})
    rows: list[tuple] = []
    lower, higher = "lower_is_better", "higher_is_better"
    for q_i, q in enumerate(queues):
        goal = aht_q[q_i] if np.isfinite(aht_q[q_i]) else aht_all
        aht = round(float(goal * rng.uniform(0.9, 1.12)))
        sla_goal = 0.95 if q["sla_hours"] <= 4 else 0.90
        rows += [
            ("queue", q["queue_id"], "aht", aht, lower),
            ("queue", q["queue_id"], "sla_attainment", sla_goal, higher),
        ]
    for v_i, vendor in enumerate(vendor_names):
        goal = aht_v[v_i] if np.isfinite(aht_v[v_i]) else aht_all
        rows.append(("vendor", vendor, "aht", round(float(goal * rng.uniform(0.9, 1.12))), lower))
        rows.append(("vendor", vendor, "accuracy", 0.95 if vendor == "in-house" else 0.92, higher))
        if np.isfinite(uph_v[v_i]):
            rows.append(
                (
                    "vendor",
                    vendor,
                    "uph",
                    round(float(uph_v[v_i] * rng.uniform(0.9, 1.1)), 1),
                    higher,
                )
            )
        rows.append(("vendor", vendor, "sla_attainment", 0.90, higher))
    rows += [
        ("global", "all", "aht", round(float(aht_all * 1.02)), lower),
        (
            "global",
            "all",
            "sla_attainment",
            round(float(in_sla[base].mean() if base.any() else 0.9), 3),
            higher,
        ),
        ("global", "all", "accuracy", 0.93, higher),
    ]
    return [(f"{y}-W{w:02d}", *row) for (y, w) in weeks for row in rows]


def _write(db_path: Path, ref, mods, cases, text_pool, names, shifts, targets, meta, t_start: int) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(db_path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)
        conn.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        conn.executemany("INSERT INTO labels VALUES (?, ?, ?)", ref["labels"])
        conn.executemany(
            "INSERT INTO queues VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    q["queue_id"],
                    q["name"],
                    q["channel"],
                    q["market"],
                    q["policy_area"],
                    q["sla_hours"],
                    q["priority"],
                )
                for q in ref["queues"]
            ],
        )
        vendor_names = list(VENDORS)
        conn.executemany(
            "INSERT INTO moderators VALUES (?, ?, ?, ?)",
            [
                (m, vendor_names[v], s, int(t))
                for m, v, s, t in zip(mods["ids"], mods["vendor"], mods["site"], mods["tenure"], strict=True)
            ],
        )
        _write_cases(conn, ref, mods, cases, text_pool, names)
        s_mod, s_day, *values = shifts
        day_text = [
            (datetime.fromtimestamp(t_start, UTC).date() + timedelta(days=d)).isoformat()
            for d in range(int(s_day.max(initial=0)) + 1)
        ]
        conn.executemany(
            "INSERT INTO shifts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            zip(
                [mods["ids"][m] for m in s_mod.tolist()],
                [day_text[d] for d in s_day.tolist()],
                *(v.tolist() for v in values),
                strict=True,
            ),
        )
        conn.executemany("INSERT INTO targets VALUES (?, ?, ?, ?, ?, ?)", targets)
        conn.executescript(INDEXES)
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, db_path)


def _write_cases(conn, ref, mods, cases, text_pool, names) -> None:
    queue_ids = np.array([q["queue_id"] for q in ref["queues"]], dtype=object)
    mod_ids = np.array(mods["ids"] + [None], dtype=object)
    decisions = np.array(DECISIONS + (None,), dtype=object)
    labels = np.array([lab[0] for lab in ref["labels"]] + [None], dtype=object)
    texts = np.array(text_pool, dtype=object)
    users = np.array(names, dtype=object)
    n = len(cases["q_idx"])
    for lo in range(0, n, CHUNK):
        c = {k: v[lo : lo + CHUNK] for k, v in cases.items()}
        is_open, unassigned = c["is_open"], c["unassigned"]
        handle = c["handle"].astype(object)
        handle[is_open] = None
        qa_correct = c["qa_correct"].astype(np.int64).astype(object)
        qa_correct[~c["qa_sampled"] | c["qa_pending"]] = None
        columns = (
            range(lo + 1, lo + 1 + len(is_open)),
            queue_ids[c["q_idx"]].tolist(),
            _ts_text(c["created"]),
            _ts_text(c["assigned"], unassigned),
            _ts_text(c["completed"], is_open),
            mod_ids[np.where(unassigned, len(mod_ids) - 1, c["moderator"])].tolist(),
            decisions[np.where(is_open, len(decisions) - 1, c["decision"])].tolist(),
            labels[np.where(is_open, len(labels) - 1, c["label"])].tolist(),
            handle.tolist(),
            c["qa_sampled"].astype(np.int64).tolist(),
            qa_correct.tolist(),
            c["escalated"].astype(np.int64).tolist(),
            c["appealed"].astype(np.int64).tolist(),
            c["overturned"].astype(np.int64).tolist(),
            texts[c["text_idx"]].tolist(),
            users[c["name_idx"]].tolist(),
        )
        conn.executemany(
            f"INSERT INTO cases VALUES ({', '.join('?' * len(columns))})",
            zip(*columns, strict=True),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path, help="SQLite file to write (replaced)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 10, 19), help="first day, UTC")
    parser.add_argument("--scale", type=int, default=20_000, help="expected number of cases")
    args = parser.parse_args(argv)
    s = generate(args.db, seed=args.seed, days=args.days, start=args.start, scale=args.scale)
    print(
        f"wrote {s.db_path}: {s.cases:,} cases ({s.open_cases:,} open), {s.queues} queues, "
        f"{s.moderators} moderators, {s.shifts:,} shifts, {s.targets} targets, "
        f"{s.start}..{s.end} (end exclusive) in {s.seconds:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
