"""The end of a job, told to whoever listens: for now a log line (ids and status only).

Webhooks (``webhook_url``, Standard Webhooks signatures) hang here: the worker and the
cancel route call ``job_ended`` once per job, when it becomes ``completed``, ``failed`` or
``cancelled``; the event types are ``extraction.job.completed`` / ``.failed`` /
``.cancelled`` (``event_type``).
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
