"""KV-cache arithmetic for a profile: what one token costs, what fits, how many requests run.

The numbers follow vLLM 0.32's own block arithmetic, so ``plan(profile).vllm_reported_tokens``
is the "KV cache size: N tokens" line vLLM logs at start-up (the integration tests check it):

* one KV page per layer holds ``block_size`` tokens: ``block_size × 2 × kv_heads × head_dim ×
  dtype bytes`` (``AttentionSpec.page_size_bytes``, ``vllm/v1/kv_cache_interface.py``);
* ``num_blocks = budget // (layers × page)`` (``get_kv_cache_config_from_groups``,
  ``vllm/v1/core/kv_cache_utils.py``);
* a sequence of ``n`` tokens takes ``cdiv(n, block_size)`` blocks, or with a sliding window
  ``W`` ``cdiv(min(W - 1 + in_flight, n), block_size) + 1`` (``SlidingWindowSpec``);
* the logged size is ``int(num_blocks / blocks(max_model_len) × max_model_len)``
  (``get_kv_cache_capacity``), not ``num_blocks × block_size``.

>>> kv_bytes_per_token(PHI35_VISION, "bfloat16")
393216
>>> worst_case_image_tokens(16), worst_case_grid(16)
(2653, (16, 1))
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel, ConfigDict

from serve.checkpoint import count_parameters, read_config
from serve.errors import ProfileError
from serve.imagetokens import image_tokens, worst_case_grid, worst_case_image_tokens

if TYPE_CHECKING:
    from serve.profiles import EngineProfile

__all__ = [
    "BUILTIN_SPECS",
    "GiB",
    "KVPlan",
    "ModelSpec",
    "PHI35_VISION",
    "TINY_PHI3V",
    "blocks_per_sequence",
    "dtype_bytes",
    "image_tokens",
    "kv_block_bytes",
    "kv_bytes_per_token",
    "num_kv_blocks",
    "plan",
    "resolve_model_spec",
    "tokens_that_fit",
    "vllm_reported_tokens",
    "weight_bytes",
    "worst_case_grid",
    "worst_case_image_tokens",
]

GiB = 1 << 30

_DTYPE_BYTES = {
    "float32": 4, "fp32": 4, "float": 4,
    "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2, "half": 2,
    "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1,
}  # fmt: skip


def dtype_bytes(dtype: str) -> int:
    """Bytes per element for a vLLM dtype / kv_cache_dtype name."""
    try:
        return _DTYPE_BYTES[dtype]
    except KeyError:
        known = ", ".join(sorted(_DTYPE_BYTES))
        raise ProfileError(f"unknown dtype {dtype!r} (known: {known})") from None


class ModelSpec(BaseModel):
    """The shapes that decide memory: attention layout, vocabulary and parameter count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    num_layers: int
    num_kv_heads: int
    head_dim: int
    hidden_size: int
    vocab_size: int
    num_params: int
    embedding_params: int = 0
    """Token embedding + LM head: vLLM's fp8 quantization leaves these in the model dtype."""
    sliding_window: int | None = None
    """From config.json. vLLM then sizes sequences with ``SlidingWindowSpec`` (+1 block)."""

    @classmethod
    def from_checkpoint(cls, path: Path) -> Self:
        """Read ``config.json`` and sum the safetensors headers; no tensor is loaded."""
        config = read_config(path)
        try:
            hidden = int(config["hidden_size"])
            heads = int(config["num_attention_heads"])
            kv_heads = int(config.get("num_key_value_heads") or heads)
            layers = int(config["num_hidden_layers"])
            vocab = int(config["vocab_size"])
        except KeyError as exc:
            raise ProfileError(f"{path / 'config.json'} lacks {exc.args[0]!r}") from None
        head_dim = int(config.get("head_dim") or hidden // heads)
        window = config.get("sliding_window") or None  # vLLM reads 0 as "no window"
        if config.get("use_sliding_window") is False:
            window = None
        counts = count_parameters(path)
        return cls(
            name=path.name, num_layers=layers, num_kv_heads=kv_heads, head_dim=head_dim,
            hidden_size=hidden, vocab_size=vocab, num_params=counts.total,
            embedding_params=counts.embedding, sliding_window=int(window) if window else None,
        )  # fmt: skip


PHI35_VISION = ModelSpec(
    name="Phi-3.5-vision-instruct",
    num_layers=32,
    num_kv_heads=32,
    head_dim=96,
    hidden_size=3072,
    vocab_size=32064,
    num_params=4_150_000_000,  # Phi-3-mini LM 3.82B + CLIP ViT-L/14-336 0.30B + projector
    embedding_params=2 * 32064 * 3072,
    sliding_window=131072,  # as in the published config.json
)
"""microsoft/Phi-3.5-vision-instruct, for planning GPU profiles away from the weights."""

TINY_PHI3V = ModelSpec(
    name="tiny-phi3v",
    num_layers=2,
    num_kv_heads=2,
    head_dim=96,
    hidden_size=192,
    vocab_size=32064,
    num_params=27_822_400,
    embedding_params=2 * 32064 * 192,
)
"""What ``serve.tiny`` builds; used only until the checkpoint exists (then it is read)."""

BUILTIN_SPECS: dict[str, ModelSpec] = {"phi-3.5-vision": PHI35_VISION, "tiny-phi3v": TINY_PHI3V}


def kv_bytes_per_token(spec: ModelSpec, kv_dtype: str) -> int:
    """K and V for every layer: ``2 × layers × kv_heads × head_dim × dtype bytes``."""
    return 2 * spec.num_layers * spec.num_kv_heads * spec.head_dim * dtype_bytes(kv_dtype)


def weight_bytes(spec: ModelSpec, dtype: str, quantization: str | None = None) -> int:
    """Weights in memory. With fp8 every parameter but the embeddings takes one byte."""
    if quantization == "fp8":
        return (spec.num_params - spec.embedding_params) + spec.embedding_params * dtype_bytes(
            dtype
        )
    return spec.num_params * dtype_bytes(dtype)


def kv_block_bytes(spec: ModelSpec, kv_dtype: str, block_size: int) -> int:
    """One block across all layers: what ``num_blocks`` divides the budget by."""
    return block_size * kv_bytes_per_token(spec, kv_dtype)


def num_kv_blocks(spec: ModelSpec, budget_bytes: int, kv_dtype: str, block_size: int) -> int:
    """Blocks vLLM allocates from a budget (one of them is its reserved null block)."""
    return max(budget_bytes, 0) // kv_block_bytes(spec, kv_dtype, block_size)


def tokens_that_fit(spec: ModelSpec, budget_bytes: int, kv_dtype: str, block_size: int) -> int:
    """Token slots in the pool: whole blocks only (1 GiB of 3,072 B tokens in 128-token
    blocks holds 349,440)."""
    return num_kv_blocks(spec, budget_bytes, kv_dtype, block_size) * block_size


def blocks_per_sequence(
    spec: ModelSpec, tokens: int, block_size: int, in_flight_tokens: int = 0
) -> int:
    """Blocks one sequence of ``tokens`` holds at most, as vLLM sizes it at start-up."""
    if spec.sliding_window is None:
        return -(-tokens // block_size)
    held = min(spec.sliding_window - 1 + in_flight_tokens, tokens)
    return -(-held // block_size) + 1  # the window may start mid-block


def vllm_reported_tokens(num_blocks: int, max_model_len: int, seq_blocks: int) -> int:
    """vLLM's logged "KV cache size": max concurrency at max_model_len × max_model_len."""
    return int(num_blocks / seq_blocks * max_model_len)


def resolve_model_spec(profile: EngineProfile) -> tuple[ModelSpec, str]:
    """The checkpoint's own numbers when it is on this machine, else the built-in spec."""
    path = Path(profile.model).expanduser()
    if (path / "config.json").is_file():
        return ModelSpec.from_checkpoint(path), f"checkpoint {path}"
    return BUILTIN_SPECS[profile.architecture], f"built-in {profile.architecture}"


class KVPlan(BaseModel):
    """The arithmetic for one profile, every number ``python -m serve plan`` prints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str
    spec: ModelSpec
    spec_source: str
    weight_dtype: str
    kv_dtype: str
    kv_bytes_per_token: int
    weight_bytes: int
    kv_budget_bytes: int
    kv_budget_source: str
    block_size: int
    block_bytes: int
    num_blocks: int
    tokens_fit: int
    """``num_blocks × block_size``: every token slot in the pool."""
    max_model_len: int
    vllm_reported_tokens: int
    vllm_max_concurrency: float
    """vLLM's "Maximum concurrency for max_model_len tokens per request"."""
    worst_grid: tuple[int, int]
    image_tokens: int
    """The worst-case image at ``max_num_crops`` (a single-image OCR request)."""
    multi_grid: tuple[int, int]
    multi_image_tokens: int
    """The worst-case image at ``multi_image_num_crops`` (each image of a multi-frame one)."""
    images: int
    text_tokens: int
    output_tokens: int
    single_request_tokens: int
    """One image at ``max_num_crops`` + text + output."""
    multi_request_tokens: int
    """``images × multi_image_tokens + text_tokens + output_tokens``."""
    request_tokens: int
    """One full request: the larger of the single-image and the multi-image shapes."""
    request_blocks: int
    concurrency_by_kv: int
    """Full requests the pool holds at once (the null block excluded)."""
    concurrency: int
    """``min(concurrency_by_kv, max_num_seqs)``: what can actually run together."""


def _kv_budget(profile: EngineProfile, weights: int) -> tuple[int, str]:
    if profile.kv_cache_memory_bytes is not None:
        return profile.kv_cache_memory_bytes, "kv_cache_memory_bytes"
    if profile.device == "cpu":
        assert profile.cpu_kvcache_space_gib is not None  # the profile validator ensures it
        return profile.cpu_kvcache_space_gib * GiB, "VLLM_CPU_KVCACHE_SPACE"
    assert profile.gpu_memory_utilization is not None and profile.gpu_memory_gib is not None
    requested = int(profile.gpu_memory_utilization * profile.gpu_memory_gib * GiB)
    overhead = int(profile.non_kv_overhead_gib * GiB)
    budget = requested - weights - overhead
    source = (
        f"{profile.gpu_memory_utilization:g} × {profile.gpu_memory_gib:g} GiB"
        f" − weights {weights / GiB:.2f} GiB − overhead {profile.non_kv_overhead_gib:g} GiB"
    )
    if budget <= 0:
        raise ProfileError(
            f"profile {profile.name}: no GPU memory left for the KV cache: {source}"
            f" = {budget / GiB:.2f} GiB"
        )
    return budget, source


def plan(profile: EngineProfile, spec: ModelSpec | None = None) -> KVPlan:
    """Work out the KV cache for ``profile``; ProfileError if one full request cannot fit."""
    spec, spec_source = (spec, "given") if spec is not None else resolve_model_spec(profile)
    weight_dtype = "bfloat16" if profile.dtype == "auto" else profile.dtype
    kv_dtype = weight_dtype if profile.kv_cache_dtype == "auto" else profile.kv_cache_dtype
    weights = weight_bytes(spec, weight_dtype, profile.quantization)
    budget, budget_source = _kv_budget(profile, weights)
    bs = profile.block_size
    blocks = num_kv_blocks(spec, budget, kv_dtype, bs)
    # Tokens scheduled but not yet freed (only matter with a window shorter than the context):
    # one batch on CPU, where vLLM turns async scheduling off; two with async scheduling.
    in_flight = profile.max_num_batched_tokens * (1 if profile.device == "cpu" else 2)
    seq_blocks = blocks_per_sequence(spec, profile.max_model_len, bs, in_flight)
    grid = worst_case_grid(profile.max_num_crops)
    per_image = image_tokens(*grid)
    multi_grid = worst_case_grid(profile.multi_image_num_crops)
    per_frame = image_tokens(*multi_grid)
    rest = profile.prompt_text_tokens + profile.max_output_tokens
    single = per_image + rest
    multi = profile.limit_mm_per_prompt * per_frame + rest
    request = max(single, multi)
    if request > profile.max_model_len:
        images, crops, tokens = (
            (profile.limit_mm_per_prompt, profile.multi_image_num_crops, per_frame)
            if multi >= single
            else (1, profile.max_num_crops, per_image)
        )
        raise ProfileError(
            f"profile {profile.name}: one full request needs {request:,} tokens"
            f" ({images} images × {tokens:,} at num_crops {crops} +"
            f" {profile.prompt_text_tokens:,} text + {profile.max_output_tokens:,} output)"
            f" but max_model_len is {profile.max_model_len:,}"
        )
    if blocks - 1 < seq_blocks:
        raise ProfileError(
            f"profile {profile.name}: the KV cache ({budget / GiB:.2f} GiB, {blocks:,} blocks"
            f" of {bs} tokens at {kv_bytes_per_token(spec, kv_dtype):,} B/token) cannot hold"
            f" one sequence of max_model_len {profile.max_model_len:,} ({seq_blocks:,} blocks"
            f" + 1 reserved)"
        )
    request_blocks = blocks_per_sequence(spec, request, bs, in_flight)
    by_kv = (blocks - 1) // request_blocks
    return KVPlan(
        profile=profile.name, spec=spec, spec_source=spec_source, weight_dtype=weight_dtype,
        kv_dtype=kv_dtype, kv_bytes_per_token=kv_bytes_per_token(spec, kv_dtype),
        weight_bytes=weights, kv_budget_bytes=budget, kv_budget_source=budget_source,
        block_size=bs, block_bytes=kv_block_bytes(spec, kv_dtype, bs), num_blocks=blocks,
        tokens_fit=blocks * bs, max_model_len=profile.max_model_len,
        vllm_reported_tokens=vllm_reported_tokens(blocks, profile.max_model_len, seq_blocks),
        vllm_max_concurrency=blocks / seq_blocks, worst_grid=grid, image_tokens=per_image,
        multi_grid=multi_grid, multi_image_tokens=per_frame,
        images=profile.limit_mm_per_prompt, text_tokens=profile.prompt_text_tokens,
        output_tokens=profile.max_output_tokens, single_request_tokens=single,
        multi_request_tokens=multi, request_tokens=request,
        request_blocks=request_blocks, concurrency_by_kv=by_kv,
        concurrency=min(by_kv, profile.max_num_seqs),
    )  # fmt: skip
