"""Typed engine profiles: every vLLM setting that matters, with the reason for its value.

A profile is one machine shape (``h100-80g``, ``l4-24g``, ``cpu-dev`` …). ``to_vllm_args()``
turns it into the command line, ``vllm_env()`` into the environment, and
``serve.kvcache.plan()`` checks that it can hold one full request before anything starts.

>>> profile = get_profile("cpu-dev").with_overrides(port=8001)
>>> command = profile.command()  # [python, "-m", "vllm.entrypoints.openai.api_server", …]
>>> command[1:3], command[command.index("--port") + 1]
(['-m', 'vllm.entrypoints.openai.api_server'], '8001')
>>> profile.vllm_env()["VLLM_CPU_KVCACHE_SPACE"]  # GiB of KV cache on CPU
'1'
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.spec import MAX_NUM_CROPS
from serve.errors import ProfileError, UnknownProfileError
from serve.imagetokens import worst_case_image_tokens

__all__ = [
    "REPO_ROOT",
    "SERVED_MODEL_NAME",
    "VLLM_MODULE",
    "EngineProfile",
    "builtin_profiles",
    "get_profile",
    "profile_names",
    "tiny_checkpoint_dir",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVED_MODEL_NAME = "phi-3.5-vision"
VLLM_MODULE = "vllm.entrypoints.openai.api_server"
"""The module form works everywhere; the ``vllm`` console script fails under vllm-cpu."""


def tiny_checkpoint_dir() -> Path:
    """Where cpu-dev's tiny checkpoint lives: ``$VISION_STACK_TINY_DIR`` or ``.cache/``."""
    default = REPO_ROOT / ".cache" / "tiny-phi3v"
    return Path(os.environ.get("VISION_STACK_TINY_DIR") or default).expanduser().resolve()


class EngineProfile(BaseModel):
    """One vLLM deployment of Phi-3.5-vision, sized for one kind of machine."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str
    """What ``--profile`` selects."""
    device: Literal["cuda", "cpu"]
    """Decides the KV budget knob (GPU memory share vs VLLM_CPU_KVCACHE_SPACE) and the default
    block size (vLLM uses 16-token blocks on CUDA, 128 on CPU)."""
    architecture: Literal["phi-3.5-vision", "tiny-phi3v"]
    """Built-in shapes ``plan`` uses when the checkpoint is not on this machine (a GPU profile
    planned on a laptop); a local ``model`` folder's own config.json wins."""
    model: str
    """Checkpoint folder or Hugging Face id. Docker images bake weights into a folder."""
    served_model_name: str = SERVED_MODEL_NAME
    """The same name in every profile, so client code is identical in dev and production."""
    dtype: Literal["auto", "bfloat16", "float16", "float32"]
    """bfloat16 on GPUs (the checkpoint's dtype); float32 on CPUs without AVX512-BF16/AMX,
    where bf16 is ~10× slower."""
    quantization: Literal["fp8"] | None = None
    """fp8 weights halve the 7.7 GiB of bf16 weights, which decides what a 24 GiB card holds."""
    kv_cache_dtype: Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"] = "auto"
    """fp8 halves the 384 KiB per token of bf16 KV, doubling concurrent requests."""
    max_model_len: int = Field(gt=0)
    """Prompt + output per sequence. Phi's 128k default needs 48 GiB of KV for one sequence;
    ours is sized to the largest request the gateway allows (images × worst case + text +
    output), which ``plan`` checks."""
    max_num_seqs: int = Field(gt=0)
    """Sequences decoded together; above what the KV cache holds, requests just queue."""
    max_num_batched_tokens: int = Field(gt=0)
    """Tokens per scheduler step. It also sizes vLLM's encoder cache and encoder budget
    (max of this and the worst image), so it must cover one worst-case image."""
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    """Share of GPU memory vLLM may take; KV gets what weights and activations leave."""
    kv_cache_memory_bytes: int | None = Field(default=None, gt=0)
    """An exact KV budget instead of the share, for GPUs shared with other processes."""
    gpu_memory_gib: float | None = Field(default=None, gt=0)
    """Total memory torch reports for the card (H100 80GB: 79.18 GiB), for ``plan`` only."""
    non_kv_overhead_gib: float = Field(default=3.0, ge=0)
    """Planning allowance besides weights: CUDA context (~0.5 GiB), CUDA graphs (~1 GiB),
    and the profiling forward pass at max_num_batched_tokens incl. the CLIP tower (~1.5 GiB).
    vLLM measures the real value at start-up and logs "Available KV cache memory"."""
    cpu_kvcache_space_gib: int | None = Field(default=None, gt=0)
    """VLLM_CPU_KVCACHE_SPACE (GiB, whole numbers). Unset, vLLM 0.32 sizes the KV cache from
    a share of RAM after a warm-up pass; a fixed size keeps dev and tests predictable."""
    kv_block_size: int | None = Field(default=None, gt=0)
    """Tokens per KV block (``--block-size``); unset, vLLM's default for the device. Prefix
    caching reuses whole blocks only, so a request loses on average half a block of its
    shared prefix: 64 tokens at CPU's default 128, which kept extraction prompts near 90%
    cached. vLLM's CPU attention takes multiples of 32."""
    enable_chunked_prefill: bool = True
    """Split a long prompt over several scheduler steps (vLLM's default), so running decodes
    keep going. Off on CPU: vLLM 0.32's CPU runner kills the engine ("CPU Generator does not
    use offset") when the prompt of a request with a ``seed`` is split, which any seeded
    request over ``max_num_batched_tokens`` did (a slide deck). Off, every prompt is
    prefilled whole, so ``max_num_batched_tokens`` must cover ``max_model_len``."""
    enable_prefix_caching: bool = True
    """Repeated images and the fixed system prompt reuse KV blocks (97% hits measured)."""
    scheduling_policy: Literal["fcfs", "priority"] = "priority"
    """``priority``: a request's ``priority`` orders the queue (lower first). The gateway
    sends interactive calls at 0 and background work (batch lines) at
    ``GATEWAY_BACKGROUND_PRIORITY``, so a running batch does not starve chat."""
    limit_mm_per_prompt: int = Field(gt=0)
    """Images per prompt (``--limit-mm-per-prompt {"image": N}``); more get HTTP 400. Sized for
    multi-frame requests (a slide deck, the pages of a document) at ``multi_image_num_crops``;
    the gateway's ``GATEWAY_MAX_IMAGES_PER_REQUEST`` should equal it."""
    multi_image_num_crops: int = Field(default=4, ge=1, le=MAX_NUM_CROPS)
    """Crops per image that a request with ``limit_mm_per_prompt`` images is planned for: 4,
    Phi-3.5-vision's advice for multi-frame input. So many images at more crops can exceed
    ``max_model_len``, and vLLM refuses that one request with HTTP 400."""
    num_crops: int = Field(default=4, ge=1, le=MAX_NUM_CROPS)
    """vLLM's default for requests that do not choose (``--mm-processor-kwargs``): 4 is
    Phi-3.5-vision's own default and right for multi-image prompts and scenes."""
    max_num_crops: int = Field(default=MAX_NUM_CROPS, ge=1, le=MAX_NUM_CROPS)
    """Largest per-request num_crops the gateway may pass (16 for single-image OCR). vLLM
    sizes its encoder cache as max(max_num_batched_tokens, largest image at the server
    default), so max_num_batched_tokens must cover one image at this many crops (checked
    below); otherwise a 16-crop image is refused with "exceeds the pre-allocated encoder
    cache size"."""
    prompt_text_tokens: int = Field(default=1024, ge=0)
    """Planning allowance for system prompt + instructions + schema text in one request."""
    max_output_tokens: int = Field(default=2048, gt=0)
    """Planning allowance for one answer: the gateway's cap on max_tokens."""
    structured_outputs_backend: Literal["xgrammar", "guidance"] = "xgrammar"
    """xgrammar is fastest; it must be named explicitly for disable_any_whitespace."""
    disable_any_whitespace: bool = True
    """Stops guided JSON from padding with runs of whitespace until max_tokens."""
    trust_remote_code: bool = True
    """The checkpoints load their config and processor through ``auto_map``."""
    enforce_eager: bool = False
    """CUDA graphs speed up decoding on GPU; CPU has none to capture."""
    host: str = "127.0.0.1"
    """Private by default: only the gateway may reach vLLM (its --api-key misses routes)."""
    port: int = Field(default=8000, ge=1, le=65535)
    """vLLM's conventional port."""

    @model_validator(mode="after")
    def _check_rules_between_fields(self) -> Self:
        if self.multi_image_num_crops > self.max_num_crops:
            raise ValueError(
                f"multi_image_num_crops {self.multi_image_num_crops} exceeds max_num_crops"
                f" {self.max_num_crops}"
            )
        if self.num_crops > self.max_num_crops:
            raise ValueError(
                f"num_crops {self.num_crops} exceeds max_num_crops {self.max_num_crops}"
            )
        worst = worst_case_image_tokens(self.max_num_crops)
        if self.max_num_batched_tokens < worst:
            raise ValueError(
                f"max_num_batched_tokens {self.max_num_batched_tokens:,} is below one"
                f" worst-case image ({worst:,} tokens at num_crops {self.max_num_crops});"
                f" vLLM would refuse such images (encoder cache too small)"
            )
        if not self.enable_chunked_prefill and self.max_num_batched_tokens < self.max_model_len:
            raise ValueError(
                f"without chunked prefill max_num_batched_tokens ({self.max_num_batched_tokens:,})"
                f" must cover max_model_len ({self.max_model_len:,})"
            )
        step = 32 if self.device == "cpu" else 16
        if self.kv_block_size is not None and self.kv_block_size % step:
            raise ValueError(
                f"kv_block_size {self.kv_block_size} must be a multiple of {step} on {self.device}"
            )
        if self.device == "cpu":
            if (self.cpu_kvcache_space_gib is None) == (self.kv_cache_memory_bytes is None):
                # vLLM lets VLLM_CPU_KVCACHE_SPACE override the flag; one source avoids doubt.
                raise ValueError(
                    "a cpu profile needs one of cpu_kvcache_space_gib or kv_cache_memory_bytes"
                )
            if self.gpu_memory_utilization is not None or self.quantization is not None:
                raise ValueError("gpu_memory_utilization and quantization are for cuda")
        else:
            if self.cpu_kvcache_space_gib is not None:
                raise ValueError("cpu_kvcache_space_gib is for cpu profiles")
            if (self.gpu_memory_utilization is None) == (self.kv_cache_memory_bytes is None):
                raise ValueError("set one of gpu_memory_utilization or kv_cache_memory_bytes")
            if self.gpu_memory_utilization is not None and self.gpu_memory_gib is None:
                raise ValueError("gpu_memory_utilization needs gpu_memory_gib to plan with")
        return self

    @property
    def block_size(self) -> int:
        """The KV block size vLLM will use: ours, else the device's default (CPU 128, CUDA 16)."""
        if self.kv_block_size is not None:
            return self.kv_block_size
        return 128 if self.device == "cpu" else 16

    def with_overrides(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        model: str | None = None,
        max_model_len: int | None = None,
        max_num_seqs: int | None = None,
        gpu_memory_utilization: float | None = None,
        kv_cache_memory_bytes: int | None = None,
        cpu_kvcache_space_gib: int | None = None,
    ) -> EngineProfile:
        """A validated copy with deployment details replaced: where vLLM listens, which
        checkpoint, and the KV-cache knobs an operator tunes per host. Naming one KV budget
        clears the other, so the copy still names exactly one (the validator insists)."""
        updates = {
            "host": host,
            "port": port,
            "model": model,
            "max_model_len": max_model_len,
            "max_num_seqs": max_num_seqs,
            "gpu_memory_utilization": gpu_memory_utilization,
            "kv_cache_memory_bytes": kv_cache_memory_bytes,
            "cpu_kvcache_space_gib": cpu_kvcache_space_gib,
        }
        updates = {k: v for k, v in updates.items() if v is not None}
        data = self.model_dump()
        if "kv_cache_memory_bytes" in updates:
            data |= {"gpu_memory_utilization": None, "cpu_kvcache_space_gib": None}
        if {"gpu_memory_utilization", "cpu_kvcache_space_gib"} & set(updates):
            data["kv_cache_memory_bytes"] = None
        data |= updates
        try:
            return EngineProfile.model_validate(data)
        except ValidationError as exc:
            raise ProfileError(f"profile {self.name}: {_first_error(exc)}") from None

    def to_vllm_args(self) -> list[str]:
        """Arguments after ``python -m vllm.entrypoints.openai.api_server``."""
        args = ["--model", self.model, "--served-model-name", self.served_model_name]
        args += ["--host", self.host, "--port", str(self.port), "--dtype", self.dtype]
        args += ["--max-model-len", str(self.max_model_len)]
        args += ["--max-num-seqs", str(self.max_num_seqs)]
        args += ["--max-num-batched-tokens", str(self.max_num_batched_tokens)]
        args += ["--kv-cache-dtype", self.kv_cache_dtype]
        if self.quantization:
            args += ["--quantization", self.quantization]
        if self.gpu_memory_utilization is not None:
            args += ["--gpu-memory-utilization", f"{self.gpu_memory_utilization:g}"]
        if self.kv_cache_memory_bytes is not None:
            args += ["--kv-cache-memory-bytes", str(self.kv_cache_memory_bytes)]
        if self.kv_block_size is not None:
            args += ["--block-size", str(self.kv_block_size)]
        args += [("--" if self.enable_prefix_caching else "--no-") + "enable-prefix-caching"]
        if not self.enable_chunked_prefill:
            args += ["--no-enable-chunked-prefill"]
        args += ["--scheduling-policy", self.scheduling_policy]
        args += ["--limit-mm-per-prompt", _json({"image": self.limit_mm_per_prompt})]
        # Per-request num_crops up to max_num_crops fit the encoder cache because
        # max_num_batched_tokens covers a worst-case image at max_num_crops (validated).
        args += ["--mm-processor-kwargs", _json({"num_crops": self.num_crops})]
        args += ["--trust-request-mm-kwargs"]  # per-request num_crops from the gateway
        outputs = {
            "backend": self.structured_outputs_backend,
            "disable_any_whitespace": self.disable_any_whitespace,
        }
        args += ["--structured-outputs-config", _json(outputs)]
        if self.trust_remote_code:
            args += ["--trust-remote-code"]
        if self.enforce_eager:
            args += ["--enforce-eager"]
        return args

    def vllm_env(self) -> dict[str, str]:
        """Environment variables vLLM needs for this profile (added to the current ones)."""
        if self.device != "cpu":
            return {}
        env = {
            "VLLM_CPU_OMP_THREADS_BIND": "auto",
            "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
            # OpenMP workers that spin between decode steps starve vLLM's API server (and the
            # gateway) on small machines: on 2 cores, 3 of 12 streams arrived in one burst at
            # the end. Sleeping workers fixed that (0 of 24) and decoded slightly faster.
            "OMP_WAIT_POLICY": "PASSIVE",
        }
        if self.cpu_kvcache_space_gib is not None:
            env["VLLM_CPU_KVCACHE_SPACE"] = str(self.cpu_kvcache_space_gib)
        return env

    def command(self, python: str = sys.executable) -> list[str]:
        """The full argv that starts vLLM with this profile."""
        return [python, "-m", VLLM_MODULE, *self.to_vllm_args()]


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]


def _profile(**fields: Any) -> EngineProfile:
    return EngineProfile.model_validate(fields)


def builtin_profiles() -> dict[str, EngineProfile]:
    """The named profiles, built fresh so ``$VISION_STACK_TINY_DIR`` is read at call time."""
    phi = {"architecture": "phi-3.5-vision", "model": "microsoft/Phi-3.5-vision-instruct"}
    profiles = [
        # A 24-slide deck at num_crops 4 (Microsoft's multi-frame advice): 24 × 781 + 1,024 +
        # 2,048 = 21,816 tokens → 24k context; ~60 GiB of KV holds ~7 such requests at once,
        # and ~60 typical 1–3k-token single-image extractions.
        _profile(
            name="h100-80g", device="cuda", **phi, dtype="bfloat16", max_model_len=24576,
            max_num_seqs=64, max_num_batched_tokens=8192, gpu_memory_utilization=0.90,
            gpu_memory_gib=79.18, limit_mm_per_prompt=24,
        ),
        # Same memory as the H100; a third of its bf16 throughput, so smaller steps keep
        # running decodes responsive while a prefill chunk goes through. No fp8 on Ampere.
        _profile(
            name="a100-80g", device="cuda", **phi, dtype="bfloat16", max_model_len=24576,
            max_num_seqs=48, max_num_batched_tokens=4096, gpu_memory_utilization=0.90,
            gpu_memory_gib=79.15, limit_mm_per_prompt=24,
        ),
        # An edge card: fp8 weights (~4.1 GiB) and fp8 KV (192 KiB/token) leave ~13 GiB.
        # 8 images at num_crops 4 (8 × 781 + 1,024 + 1,536 = 8,808 tokens) in a 10k context:
        # ~7 such requests at once. Longer decks belong on the 80 GB cards.
        _profile(
            name="l4-24g", device="cuda", **phi, dtype="bfloat16", quantization="fp8",
            kv_cache_dtype="fp8", max_model_len=10240, max_num_seqs=16,
            max_num_batched_tokens=4096, gpu_memory_utilization=0.90, gpu_memory_gib=22.03,
            non_kv_overhead_gib=2.5, limit_mm_per_prompt=8, max_output_tokens=1536,
        ),
        # Replicate's L40S (Ada, 48 GB; torch reports 44.39 GiB): bf16 like the 80 GB cards,
        # 24k context and 24 images; ~29 GiB of KV holds 3 full decks at once and ~14
        # typical single-image extractions. fp8 would fit more but changes the answers.
        _profile(
            name="l40s-48g", device="cuda", **phi, dtype="bfloat16", max_model_len=24576,
            max_num_seqs=32, max_num_batched_tokens=8192, gpu_memory_utilization=0.90,
            gpu_memory_gib=44.39, limit_mm_per_prompt=24,
        ),
        # Replicate's T4 (Turing, 16 GB; torch reports 14.58 GiB): no bf16 and no fp8 on
        # compute capability 7.5, so float16 weights (7.7 GiB) leave ~3.7 GiB of KV: a 6k
        # context holds one 16-crop image or 4 images at num_crops 4, about one full request
        # at a time (more when they are small). Slow; for trying the model, not for load.
        _profile(
            name="t4-16g", device="cuda", **phi, dtype="float16", max_model_len=6144,
            max_num_seqs=8, max_num_batched_tokens=4096, gpu_memory_utilization=0.92,
            gpu_memory_gib=14.58, non_kv_overhead_gib=2.0, limit_mm_per_prompt=4,
            max_output_tokens=1024,
        ),
        # The tiny random-weight checkpoint on a 2-core laptop: fp32, eager, 1 GiB of KV
        # (349k tokens for this 2-layer model). Its 16k positions (max_position_embeddings)
        # bound the context: 20 images at num_crops 3 (20 × 625 + 512 + 1,024 = 14,036
        # tokens; 19 at num_crops 4), so multi-image requests are tested for real. Prompts
        # are prefilled whole (see enable_chunked_prefill): a 16k-token step on this 2-layer
        # model is cheap.
        # 32-token blocks instead of CPU's 128: several schemas on one image reused 96-98% of
        # their prompt instead of 93-95% (make bench); decoding was as fast, a cold 16-crop
        # prefill about 5% slower.
        _profile(
            name="cpu-dev", device="cpu", architecture="tiny-phi3v",
            model=str(tiny_checkpoint_dir()), dtype="float32", max_model_len=16384,
            max_num_seqs=8, max_num_batched_tokens=16384, enable_chunked_prefill=False,
            cpu_kvcache_space_gib=1,
            kv_block_size=32, limit_mm_per_prompt=20, multi_image_num_crops=3,
            prompt_text_tokens=512,
            max_output_tokens=1024, enforce_eager=True,
        ),
    ]  # fmt: skip
    return {p.name: p for p in profiles}


def profile_names() -> list[str]:
    """Names ``--profile`` accepts, sorted."""
    return sorted(builtin_profiles())


def get_profile(name: str) -> EngineProfile:
    """The named profile; UnknownProfileError listing the known names otherwise."""
    profiles = builtin_profiles()
    try:
        return profiles[name]
    except KeyError:
        known = ", ".join(sorted(profiles))
        raise UnknownProfileError(f"unknown profile {name!r} (known: {known})") from None
