"""Delivery for the scheduler, off its loop: finished runs' emails and alerts, and sending the mail.

The scheduler's loop fires slots, starts runs and watches their deadlines; it must never wait for a mail
server or a chat webhook. A mute SMTP server answers nothing for ``email.timeout_s`` (30 s by default) per
connection: done in the loop, that made every job late and skipped the slots of jobs that send no mail at
all. So the loop only hands work over, and two threads of the courier do it:

- the delivery thread: for each finished run, the delivery pipeline (quality gates, compose the report or
  the alert, save it to the outbox, post to chat), under a claim in the history so that each run is
  delivered once whoever delivers it (recovery.py); and the scheduler's own alerts (skipped slots, runs
  that overrun or wait, an unavailable history, mail in trouble) to chat;
- the mail thread: sends the outbox's pending mail over SMTP, as soon as a delivery saved some and every
  ``MAIL_EVERY_S``. A message that turns ``uncertain`` or ``failed``, and mail that stays pending (the
  server does not answer), are alerted once.

Neither thread holds the history's write lock while it talks to a server: the history is written in
short transactions before and after. A delivery that could not be recorded (the history is locked) is
tried again with backoff; one still queued when the scheduler stops is found again at its next start (the
history says it was never delivered).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opskit.delivery import pipeline
from opskit.delivery.chat import post_alert
from opskit.engine import outbox_table  # noqa: F401 (the outbox of a history on PostgreSQL)
from opskit.engine.history import HistoryUnavailable, RunStore
from opskit.engine.recovery import deliver_once

if TYPE_CHECKING:
    from opskit.config.model import Config

log = logging.getLogger(__name__)

MAIL_EVERY_S = 300.0
"""Pending mail is sent at least this often (and at once after a run saved some)."""
RETRY_DELAYS_S = (1.0, 2.0, 5.0, 15.0, 30.0, 60.0)
"""Backoff for a delivery whose history write failed (locked, disk full): then every minute."""


class Courier:
    """The scheduler's delivery threads. ``start``, hand work over, ``close``.

    Args:
        config: The config in force (the scheduler replaces ``config`` on a reload).
        owner: The scheduler's owner string: the claimant of the deliveries it makes.
        store_factory: Opens the history for the delivery thread (its own connection).
    """

    def __init__(self, config: Config, *, owner: str, store_factory: Callable[[], RunStore] | None = None):
        self.config = config
        self.owner = owner
        self._store_factory = store_factory or (lambda: RunStore(self.config.history_target, owner=owner))
        self._work: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
        self._mail_wanted = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._in_hand = 0
        """Deliveries, alerts and flushes being done right now (``idle`` for tests and benchmarks)."""
        self._mail_trouble: str | None = None
        self._threads: list[threading.Thread] = []

    # -- the loop's side: hand over and return at once --

    def start(self) -> None:
        for name, target in (("opskit-delivery", self._deliveries), ("opskit-mail", self._mail)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def deliver(self, run_id: str) -> None:
        """Deliver a run that ended (its last attempt): gates, email or alert, chat."""
        self._put(("deliver", run_id, 0))

    def alert(self, job: str | None, text: str) -> None:
        """Post an alert of the scheduler's to chat (it is logged already)."""
        self._put(("alert", job, text))

    def send_mail(self) -> None:
        """Send pending mail now, in the mail thread (requests made meanwhile fold into one flush)."""
        self._mail_wanted.set()

    def idle(self) -> bool:
        """Nothing queued, nothing being done, no flush asked for."""
        with self._lock:
            return self._work.empty() and self._in_hand == 0 and not self._mail_wanted.is_set()

    def close(self, wait_s: float = 5.0) -> None:
        """Finish what is queued within ``wait_s``, then stop; what is left is found again at the next start."""
        self._closing.set()
        self._work.put(None)
        self._mail_wanted.set()
        for thread in self._threads:
            thread.join(timeout=wait_s)
        self._threads = []

    def _put(self, item: tuple[Any, ...]) -> None:
        with self._lock:
            self._work.put(item)

    # -- the delivery thread --

    def _deliveries(self) -> None:
        store: RunStore | None = None
        while (item := self._work.get()) is not None:
            with self._lock:
                self._in_hand += 1
            try:
                if item[0] == "deliver":
                    store = store or self._store_factory()
                    self._deliver(store, item[1])
                else:
                    self._post(item[1], item[2])
            except HistoryUnavailable as exc:
                attempt = item[2] if item[0] == "deliver" else 0
                delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
                log.warning("delivery of run %s waits %.0fs: %s", item[1], delay, exc)
                if not self._closing.wait(delay):
                    self._put(("deliver", item[1], attempt + 1))
            except Exception:  # the thread must outlive any one delivery
                log.exception("delivery of %s failed", item[1])
            finally:
                with self._lock:
                    self._in_hand -= 1
        if store is not None:
            store.close()

    def _deliver(self, store: RunStore, run_id: str) -> None:
        data = deliver_once(self.config, store, store.get(run_id), claimer=self.owner, send_now=False)
        if data is not None and any(e.get("status") == "pending" for e in data.get("emails") or []):
            self.send_mail()

    def _post(self, job: str | None, text: str) -> None:
        chat = self.config.settings.chat
        if chat is None:
            return
        try:
            post_alert(chat, f"opskit scheduler: {job or 'scheduler'}", text, {"job": job or "-"})
        except Exception:  # noqa: BLE001 - a webhook that fails is logged, never fatal
            log.exception("could not post the alert to chat")

    # -- the mail thread --

    def _mail(self) -> None:
        while True:
            self._mail_wanted.wait(MAIL_EVERY_S)
            if self._closing.is_set():
                return
            with self._lock:
                self._in_hand += 1
                self._mail_wanted.clear()
            try:
                self._flush()
            except Exception:  # noqa: BLE001
                log.exception("sending pending mail failed; it stays in the outbox")
            finally:
                with self._lock:
                    self._in_hand -= 1

    def _flush(self) -> None:
        report = pipeline.send_pending_mail(self.config)
        if report is None:  # the outbox backend: nothing is ever sent
            return
        for msg_id in report.uncertain:
            self._mail_alert(
                f"message {msg_id} is uncertain: {report.errors.get(msg_id)}. Check with its recipients, then "
                f"`runner.py outbox --resend {msg_id}` or `--dismiss {msg_id}`"
            )
        for msg_id in report.failed:
            self._mail_alert(
                f"message {msg_id} failed for good: {report.errors.get(msg_id)}. "
                f"`runner.py outbox --resend {msg_id}` once the cause is fixed"
            )
        if report.pending:
            first = report.errors.get(report.pending[0], "not sent")
            if self._mail_trouble is None:
                self._mail_alert(f"{len(report.pending)} message(s) wait in the outbox: {first}")
            self._mail_trouble = first
        elif self._mail_trouble is not None:
            log.info("mail: the outbox is flowing again (%s)", report.summary())
            self._mail_trouble = None

    def _mail_alert(self, text: str) -> None:
        log.warning("ALERT mail: %s", text)
        self.alert(None, f"mail: {text}")
