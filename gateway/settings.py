"""Every knob of the gateway, read once from the environment (prefix ``GATEWAY_``).

One class holds them all so that nothing else in the package reads ``os.environ``. Tests build
a ``Settings(...)`` directly and pass it to ``create_app``; the CLI and the uvicorn factory build
one from the environment.

    GATEWAY_UPSTREAM_URL=http://10.0.0.5:8000 GATEWAY_MAX_IMAGES_PER_REQUEST=4 \\
        python -m gateway serve
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.spec import MAX_NUM_CROPS

__all__ = ["Settings", "MIB", "settings_table"]

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Gateway configuration. Each field maps to ``GATEWAY_<FIELD NAME IN CAPITALS>``."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    # --- where things are -------------------------------------------------------------------
    upstream_url: str = "http://127.0.0.1:8000"
    """Base URL of the vLLM OpenAI server, without ``/v1``. It should listen on a private
    address: the gateway is the only thing exposed. Used when ``upstream_urls`` is empty."""
    upstream_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Several vLLM replicas (base URLs, without ``/v1``); overrides ``upstream_url``. Requests
    with an image go to the replica that owns the first image's digest on a hash ring, so that
    its KV blocks are reused; text-only requests go to the least-loaded replica. In the
    environment: comma-separated or a JSON list."""
    routing: Literal["affinity", "round_robin"] = "affinity"
    """``affinity`` (image digest, then least-loaded) is what to run. ``round_robin`` ignores
    images; it exists so that the routing benchmark can show what affinity buys."""
    health_interval_s: float = Field(default=5.0, gt=0)
    """How often each replica's ``/health`` is polled in the background (only with several
    replicas: a single one is always used anyway)."""
    health_timeout_s: float = Field(default=2.0, gt=0)
    """One health poll; a slower answer counts as a failure."""
    health_failure_threshold: int = Field(default=3, ge=1)
    """Consecutive failed polls that take a replica out; one success brings it back. A request
    that cannot even connect takes it out at once (and is retried on the next replica)."""
    upstream_api_key: SecretStr | None = None
    """Sent as ``Authorization: Bearer`` to vLLM if vLLM was started with ``--api-key``."""
    keys_db: Path | str = Path("gateway-keys.db")
    """Key store: a SQLite file (created on first use, shared by the workers of one machine),
    or a ``postgresql://user:password@host:port/db`` URL for several replicas."""
    keys_db_pool_size: int = Field(default=10, ge=1)
    """PostgreSQL connections per gateway process (only key-cache misses use one)."""
    keys_db_timeout_s: float = Field(default=2.0, gt=0)
    """PostgreSQL: connecting, or waiting for a pooled connection; past it the database counts
    as unreachable for that lookup."""
    keys_migrate_on_start: bool = True
    """Apply pending key-store migrations when the gateway starts (replicas serialise on a
    PostgreSQL advisory lock). Turn off to run ``python -m gateway keys migrate`` as a deploy
    step instead."""
    redis_url: SecretStr | None = None
    """``redis://[:password@]host:port/db`` (Redis or Valkey): rpm and concurrency limits then
    hold across every worker and replica, and revocations reach them all at once. Unset, limits
    are per process."""
    redis_timeout_s: float = Field(default=0.5, gt=0)
    """One Redis call (connect or command); past it Redis counts as unreachable."""
    limits_fail_mode: Literal["open", "closed"] = "open"
    """With Redis unreachable: ``open`` admits requests unlimited (keys are still checked), with
    a warning line and ``gateway_limiter_errors_total``; ``closed`` answers 503."""
    limit_lease_ttl_s: float = Field(default=10.0, ge=0.3)
    """A concurrency slot in Redis expires this long after its last refresh (live requests
    refresh theirs every third of it), so a crashed gateway frees its slots by then."""
    host: str = "127.0.0.1"
    """Address to listen on (``0.0.0.0`` in a container); ``serve --host`` overrides it."""
    port: int = Field(default=8080, ge=1, le=65535)
    """``serve --port`` overrides it."""
    workers: int = Field(default=1, ge=1)
    """Gateway processes, each accepting connections on its own socket; ``serve --workers``
    overrides it. Limits are per process unless ``redis_url`` is set."""
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    """uvicorn's log level; the JSON access lines are written at ``info``."""

    # --- request limits -----------------------------------------------------------------------
    max_body_bytes: int = Field(default=64 * MIB, ge=1024)
    """Whole request body. Two 20 MiB images in base64 are ~54 MiB, hence 64 MiB."""
    json_steps_threshold_bytes: int = Field(default=MIB, ge=0)
    """JSON bodies larger than this are parsed in steps that let other requests run between
    them (a 12 MP photo as a data URL is ~7 MB: ~12 ms of parsing that would otherwise stall
    every request on the worker); smaller ones in one go, which is faster for them. A value
    above ``max_body_bytes`` parses every body in one go."""
    max_tokens_cap: int = Field(default=4096, ge=1)
    """Largest ``max_tokens`` / ``max_completion_tokens`` a client may ask for."""
    max_n: int = Field(default=4, ge=1)
    """Largest ``n`` (choices per request): each choice holds its own KV blocks."""
    max_images_per_request: int = Field(default=20, ge=0)
    """Images in one request; set it to the engine profile's ``limit_mm_per_prompt`` (vLLM
    refuses more). The gateway cannot ask vLLM for it, so the default is ``cpu-dev``'s (20);
    ``h100-80g`` and ``a100-80g`` take 24, ``l4-24g`` 8. ``make dev`` sets it from the profile
    it starts."""
    max_image_bytes: int = Field(default=20 * MIB, ge=1)
    """Decoded bytes of one image."""
    max_image_pixels: int = Field(default=50_000_000, ge=1)
    """Width x height of one image, checked from the header before decoding (bomb guard)."""
    # --- documents (PDF, multi-page TIFF) on the extraction API ------------------------------
    document_max_pages: int = Field(default=20, ge=1)
    """Pages rendered from one document (after the ``pages`` selection); more is a 413 that
    suggests a selection."""
    document_max_bytes: int = Field(default=20 * MIB, ge=1)
    """Bytes of one document file (upload, data URL or fetched URL)."""
    document_max_page_pixels: int = Field(default=50_000_000, ge=1)
    """Pixels of one page as rendered, or as decoded for a TIFF frame. Pages render at the
    schema's crop grid (an A4 page at 16 crops: 950x1344), so this stops bombs, not pages."""
    document_render_timeout_s: float = Field(default=30.0, gt=0)
    """Wall time to render one document; a slower one is refused, and a render that hangs
    has its worker process killed."""
    document_render_workers: int = Field(default=2, ge=1)
    """Worker processes rendering documents (PDFium is not thread-safe); more documents wait.
    Each costs ~70 MB once started; they start on the first document."""
    document_page_concurrency: int = Field(default=4, ge=1)
    """Pages of one document asked of the model at once, for keys without a concurrency
    limit; a key with one uses its own limit instead."""
    ocr_page_timeout_s: float = Field(default=15.0, gt=0)
    """Wall time to OCR one page for grounding (Tesseract, ~0.2-0.4 s of CPU for an A4 page
    at 200 dpi); a slower page has its OCR worker killed and is answered without grounding."""
    ocr_workers: int = Field(default=1, ge=0)
    """Worker processes reading pages by OCR for grounding (~115 MB resident each, ~280 MB
    at peak); more pages wait. 0: no OCR, so images and scanned pages are not grounded
    (a note in the result says so)."""
    grounding_default: Literal["text_layer", "always", "never"] = "text_layer"
    """Whether an extraction is grounded when the request's ``grounding`` is null:
    ``text_layer`` only the pages of a PDF with a text layer (cheap: no OCR), ``always``
    every page (OCR for images and scanned pages), ``never``."""
    grounding_min_score: float = Field(default=0.8, ge=0.0, le=1.0)
    """The least similarity (rapidfuzz ratio / 100) at which a value counts as found."""
    grounding_min_ocr_confidence: float = Field(default=0.7, ge=0.0, le=1.0)
    """The mean Tesseract word confidence (0-1) from which an OCR'd page counts as read well,
    so that a value not found on it fails the ``grounding`` check; on a page read worse the
    check is skipped. Chosen by measurement (bench/results/grounding.md): the 40 generated
    documents read at 0.79-0.96 (clean, 150 dpi scan, rotated
    +3 deg JPEG q70); a page shrunk to 300 px wide reads at 0.59."""
    num_crops_min: int = Field(default=1, ge=1, le=MAX_NUM_CROPS)
    """Smallest ``num_crops`` a client may ask for (chat's ``mm_processor_kwargs.num_crops``,
    extraction's ``num_crops``)."""
    num_crops_max: int = Field(default=MAX_NUM_CROPS, ge=1, le=MAX_NUM_CROPS)
    """Largest ``num_crops``, for chat and extraction alike; a schema that recommends more is
    clamped to it. vLLM trusts what the gateway forwards, and 16 crops is the largest image
    the engine profiles size their encoder cache for."""
    default_num_crops: int = Field(default=4, ge=1, le=MAX_NUM_CROPS)
    """The engine's own default (its ``--mm-processor-kwargs``; 4 in every built-in profile):
    the crops for images whose request names neither ``num_crops`` nor a ``detail``. An image
    pre-sized for it is sent with this num_crops, so a mismatch changes the crops, never
    their exactness."""
    presize_images: bool = True
    """Shrink images larger than the model will use to exactly its target size before vLLM
    (``docs/gateway.md``, "Images"); off sends every checked image as it came."""
    trim_after_decodes: bool = True
    """When the last image decode in flight finishes, give freed heap memory back to the OS
    (glibc ``malloc_trim``): otherwise each decode thread's arena keeps its largest photo's
    buffers as RSS. Costs well under a millisecond, in the decode thread."""
    image_decode_concurrency: int | None = Field(default=None, ge=1)
    """Images decoded at once per worker (the rest wait in line), which bounds memory;
    unset, one per CPU the process may use."""

    # --- fetching http(s) image URLs ------------------------------------------------------------
    fetch_timeout_s: float = Field(default=10.0, gt=0)
    """Whole fetch, DNS and every redirect hop included."""
    fetch_max_bytes: int = Field(default=20 * MIB, ge=1)
    """Bytes read from one image URL; the fetch stops as soon as it is over."""
    fetch_max_redirects: int = Field(default=3, ge=0)
    """Each hop is re-checked (scheme, allowlist, resolved address)."""
    fetch_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Optional allowlist of host names (``example.com`` or ``*.example.com``); empty allows
    any public host. In the environment: comma-separated or a JSON list."""
    allow_private_fetch: bool = False
    """TEST ONLY: allow fetching from private/loopback addresses. Cloud metadata addresses stay
    refused even then. Never enable in production: it opens the SSRF hole the check closes."""

    # --- upstream client ------------------------------------------------------------------------
    upstream_connect_timeout_s: float = Field(default=5.0, gt=0)
    """Connecting to vLLM; a replica that cannot be reached in time is taken out."""
    upstream_read_timeout_s: float = Field(default=600.0, gt=0)
    """Longest silence between two bytes from vLLM (a long prefill under load is silence)."""
    upstream_max_connections: int = Field(default=512, ge=1)
    """Pooled connections to vLLM per gateway process (every stream holds one)."""
    ready_timeout_s: float = Field(default=2.0, gt=0)
    """How long ``GET /ready`` waits for vLLM's ``/health``."""

    # --- structured outputs ---------------------------------------------------------------------
    model_name: str = "phi-3.5-vision"
    """The served model the gateway names in requests it builds itself (extraction). Every
    engine profile serves this name, so client code is the same in dev and production."""
    max_schema_bytes: int = Field(default=64 * 1024, ge=256)
    """Largest user-supplied JSON schema (response_format) in bytes. vLLM compiles schemas
    with no time limit, so a huge one could stall the engine for everyone."""
    max_schema_depth: int = Field(default=12, ge=2)
    """Deepest nesting of a user-supplied JSON schema, for the same reason."""
    review_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """An extraction gets ``review: true`` when any field's confidence is under this (or a
    check failed); a request's ``review_threshold`` overrides it. A starting point, not a
    calibration: pick yours from your own labelled documents (README)."""
    extract_default_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    """DEV ONLY: the sampling temperature of an extraction whose request names none. Keep 0
    (the most literal transcription) in production. `make dev` sets it, with a seed, for the
    `cpu-dev` profile only: greedy decoding of its random weights runs every string to its
    bound, so the first extraction would end in 422 `output_truncated`."""
    extract_default_seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    """DEV ONLY: the sampling seed of an extraction whose request names none (unset: none is
    sent). With the temperature above, it makes `make dev`'s first extraction a typed answer."""

    # --- the Batch API and background work ---------------------------------------------------
    batch_max_file_bytes: int = Field(default=200_000_000, ge=1024)
    """One file uploaded to ``POST /v1/files`` (OpenAI's 200 MB), streamed to disk under this
    cap, not under ``max_body_bytes``."""
    batch_max_lines: int = Field(default=50_000, ge=1)
    """Lines in one batch's input file (OpenAI's 50,000); more fails the batch's validation."""
    batch_window_s: float = Field(default=86_400.0, gt=0)
    """What ``completion_window: "24h"`` means here: a batch unfinished this long after its
    creation expires, its unfinished lines going to the error file as ``batch_expired``."""
    files_dir: Path | None = None
    """Folder for the bytes of uploaded files and batch results; unset: ``gateway-files``
    beside the ``keys_db`` SQLite file. Unused with a PostgreSQL key store (the bytes are
    chunked rows in that database)."""
    files_ttl_s: float = Field(default=7 * 86_400.0, gt=0)
    """Uploaded files and batch output/error files are deleted for good this long after they
    were written (they hold personal data)."""
    background_priority: int = Field(default=10, ge=1)
    """vLLM ``priority`` of background calls (batch lines); interactive calls keep 0, and a
    lower number runs first under the engine's ``--scheduling-policy priority``."""
    background_max_in_flight: int = Field(default=4, ge=1)
    """Background engine calls in flight per replica from one gateway process (a cap of this
    times the number of replicas, over calls the router spreads), so a running batch leaves
    the engine room for interactive requests."""
    batch_lease_s: float = Field(default=60.0, ge=1.0)
    """A worker's lease on one batch line, renewed while it runs; a line whose lease lapses
    (its gateway was killed) is taken again by the next claim. On PostgreSQL also the
    heartbeat window of each replica's queue worker: the jobs of a worker silent this long
    are retried by the others."""
    batch_retry_max: int = Field(default=12, ge=0)
    """Retries of one line after an engine failure (unreachable, 5xx, timeout) before it goes
    to the error file; with the backoff below, about 7 minutes of engine outage."""
    batch_retry_backoff_s: float = Field(default=1.0, gt=0)
    """First wait after an engine failure; doubles per retry of the line, up to 60 s. The
    claim loop pauses for the same wait, so an engine that is down is not hammered."""
    batch_poll_s: float = Field(default=1.0, gt=0)
    """How often an idle claim loop looks for work (and for batches to finish or expire)."""
    job_max_pages: int = Field(default=500, ge=1)
    """Pages of one async extraction job's document (``Prefer: respond-async``), far past
    ``document_max_pages``: a job renders and reads its pages in ranges, in the background."""
    job_max_document_bytes: int = Field(default=200_000_000, ge=1)
    """Bytes of one async job's document, and of a ``purpose=user_data`` upload to
    ``POST /v1/files`` (a document a job names by ``file_id``). An inline document is
    still under ``max_body_bytes``."""
    job_range_pages: int = Field(default=8, ge=1)
    """Pages in one unit of a job's work: rendered together, leased and retried together."""

    # --- webhooks -------------------------------------------------------------------------------
    webhook_secret: SecretStr | None = None
    """Standard Webhooks secret (``whsec_`` + base64) that signs the events of keys without
    their own (``keys webhook-secret``). Unset, and the key has none: no webhooks, and a
    request naming ``webhook_url`` is refused (400). ``docs/webhooks.md``."""
    webhook_max_attempts: int = Field(default=10, ge=1)
    """Deliveries of one event before it is given up (a non-2xx answer, a timeout, a
    connection error or a refused address each count one)."""
    webhook_backoff_s: float = Field(default=10.0, gt=0)
    """Wait before the second delivery attempt; doubles per attempt, at most an hour. At the
    defaults, the last attempt is about 1.4 hours after the first."""
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    """One delivery attempt, DNS and the receiver's answer included."""

    # --- auth and operations --------------------------------------------------------------------
    key_cache_ttl_s: float = Field(default=0.5, ge=0, le=1.0)
    """How long a key lookup is reused. A revocation takes effect within this time (<= 1 s)."""
    key_cache_stale_s: float = Field(default=300.0, ge=0)
    """While the key store is unreachable, a key seen within this many seconds keeps working
    from the cache; other keys get 503 until the store is back."""
    metrics_public: bool = False
    """Serve ``/metrics`` without a key (for a scraper on a private network)."""

    @property
    def replica_urls(self) -> list[str]:
        """The replicas to route over: ``upstream_urls``, or else just ``upstream_url``."""
        return list(self.upstream_urls) or [self.upstream_url]

    @field_validator("fetch_allowed_hosts", "upstream_urls", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from .webhooks.signing import check_secret

            check_secret(value.get_secret_value())
        return value

    @field_validator("keys_db", mode="before")
    @classmethod
    def _file_or_url(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.startswith(("postgresql://", "postgres://")):
            return Path(value)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("fetch_allowed_hosts")
    @classmethod
    def _lower_hosts(cls, value: list[str]) -> list[str]:
        return [host.lower().rstrip(".") for host in value]

    @field_validator("upstream_url")
    @classmethod
    def _check_upstream(cls, value: str) -> str:
        return _base_url(value)

    @field_validator("upstream_urls")
    @classmethod
    def _check_upstreams(cls, value: list[str]) -> list[str]:
        urls = [_base_url(url) for url in value]
        if len(set(urls)) != len(urls):
            raise ValueError("lists the same replica twice")
        return urls

    @model_validator(mode="after")
    def _check_ranges(self) -> Settings:
        if self.num_crops_min > self.num_crops_max:
            raise ValueError("num_crops_min must not exceed num_crops_max")
        if not self.num_crops_min <= self.default_num_crops <= self.num_crops_max:
            raise ValueError("default_num_crops must lie between num_crops_min and num_crops_max")
        return self


def _base_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} must start with http:// or https://")
    return value.rstrip("/")


def settings_table() -> str:
    """Every setting as a Markdown table (variable, default, meaning), from the field
    docstrings: the README embeds this, and a test keeps the two identical."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if default in (None, []):
            shown = "unset" if default is None else "empty"
        elif isinstance(default, int) and not isinstance(default, bool) and default >= MIB:
            shown = f"`{default}` ({default // MIB} MiB)" if default % MIB == 0 else f"`{default}`"
        else:
            shown = f"`{str(default).lower() if isinstance(default, bool) else default}`"
        meaning = " ".join((field.description or "").split()).replace("``", "`")
        meaning = meaning.replace("|", "\\|")
        rows.append(f"| `GATEWAY_{name.upper()}` | {shown} | {meaning} |")
    return "\n".join(rows) + "\n"
