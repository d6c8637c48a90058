"""Wake-ups between hosts: an engine LISTENs on the shared PostgreSQL database and hears
every other host's NOTIFY (Store.notify), so a prompt queued or a session killed from any
host reaches the worker that owns it at once, without a protocol of orchtui's own."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import make_url

from orchtui.store.db import WAKE_CHANNEL, Store

log = logging.getLogger(__name__)
POLL = 1.0  # seconds between looks at `stop` while no notification comes
RETRY = (1.0, 30.0)  # reconnect after a lost connection: first wait, longest wait


def conninfo(url: str) -> str:
    """libpq's connection string for a SQLAlchemy PostgreSQL URL."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def listen(store: Store, host: str, on_wake: Callable[[str], None], stop: threading.Event) -> None:
    """Until `stop`: `on_wake(reason)` for each wake-up another host sends to every host or
    to this one (the payload: origin, target or `*`, reason). After each
    (re)connection `on_wake` is called once more, since what was sent meanwhile was missed."""
    import psycopg

    wait = RETRY[0]
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo(store.url), autocommit=True) as conn:
                conn.execute(f"LISTEN {WAKE_CHANNEL}")
                wait = RETRY[0]
                on_wake("listening again")
                while not stop.is_set():
                    for note in conn.notifies(timeout=POLL):
                        origin, target, reason = [*note.payload.split(" ", 2), "", ""][:3]
                        if origin != host and target in ("*", host):  # for this host, from another
                            on_wake(f"{origin}: {reason}")
        except psycopg.Error as exc:
            log.warning("listening for wake-ups: %s; again in %.0f s", exc, wait)
            stop.wait(wait)
            wait = min(wait * 2, RETRY[1])
