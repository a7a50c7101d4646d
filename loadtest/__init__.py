"""Load tests of the whole stack (gateway in front of vLLM) on Locust, with a readable report.

``python -m loadtest run`` (``make loadtest``) checks the stack, runs Locust headless with the
users of ``users.py`` / ``openloop.py`` and the shape asked for, scrapes vLLM's ``/metrics``,
and writes Locust's CSV/HTML plus ``summary.json`` and ``report.md``/``report.html``. See
``loadtest/README.md``.

Modules, each with one job::

    config       RunConfig: every setting of a run (config.json), the step ramp's levels
    corpus       the synthetic, seeded image corpus (documents, photos, banners)
    payloads     request bodies spliced around pre-encoded images
    sse          SSE stream → TTFT, ITL, usage
    samples      per-request samples and the custom Locust entries (TTFT, ITL, TOK/S, LAG)
    context      what the users of one Locust process share
    scenarios    the four kinds of request (chat, stream, extract, repeat)
    users        closed-loop Locust users      openloop   the fixed-arrival-rate scheduler
    stepshape    the step ramp's Locust shape  locustfile the Locust entry point and hooks
    cpumeter     the load generator's own CPU  enginemetrics  vLLM /metrics over the run
    preflight    is the stack up? versions     stats / summary            the numbers
    render / report / plots                    Markdown, HTML and PNG
    cli / runner                               the command line and one run end to end

This package's ``__init__`` imports nothing: Locust monkey-patches the standard library with
gevent when it is imported, and only the modules that need it should pay for that.
"""

__all__: list[str] = []
