"""A job's caps and its error: the settings a job's pipeline runs with, the ``error`` field.

Kept apart from the runner so that the extraction routes (which submit jobs) import nothing
of the Batch API's machinery.
"""

from __future__ import annotations

from typing import Any

from ..errors import GatewayError
from ..settings import Settings

__all__ = ["error_of", "page_settings", "whole_settings"]


def page_settings(settings: Settings) -> Settings:
    """A ``pages`` job's settings: the document caps are the job's."""
    return settings.model_copy(
        update={
            "document_max_pages": settings.job_max_pages,
            "document_max_bytes": settings.job_max_document_bytes,
        }
    )


def whole_settings(settings: Settings) -> Settings:
    """A ``whole`` job's settings: the synchronous call's, but a job's document bytes."""
    return settings.model_copy(update={"document_max_bytes": settings.job_max_document_bytes})


def error_of(error: GatewayError) -> dict[str, Any]:
    """A job's ``error``: the synchronous error body's ``error`` object, with its status."""
    return {"status": error.status, **error.body()["error"]}
