"""The end of a job, told to whoever listens.

A job's webhook (``webhook_url``) is queued by the store in the transaction that ends the job
(``extraction.job.completed`` / ``.failed`` / ``.cancelled``, `event_type`), so a crash cannot
lose it; ``job_ended``, called once by the worker or the cancel route after that, logs the
end (ids and status only) and wakes the delivery loop so the event goes out at once.
"""

from __future__ import annotations

import logging
from typing import Any

from .store import JobRow

__all__ = ["event_type", "job_ended"]

log = logging.getLogger("gateway.jobs")


def event_type(job: JobRow) -> str:
    """``extraction.job.<status>`` of an ended job."""
    return f"extraction.job.{job.status}"


async def job_ended(state: Any, job: JobRow) -> None:
    """Called once when ``job`` ended (``state``: the app's state). Logs no content."""
    log.info("%s %s (webhook: %s)", event_type(job), job.id, "yes" if job.webhook_url else "no")
    webhooks = getattr(state, "webhooks", None)
    if job.webhook_url and webhooks is not None:
        webhooks.deliverer.poke()
