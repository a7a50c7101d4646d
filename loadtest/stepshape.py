"""Second locustfile for ``--shape step``: Locust uses any shape class a locustfile holds,
so the step shape lives in its own file that the CLI adds to ``-f`` only when asked."""

from loadtest.shapes import StepLoadShape

__all__ = ["StepLoadShape"]
