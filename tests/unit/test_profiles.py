"""Engine profiles: every named one validates and plans, and vLLM's own parser accepts it."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from serve.errors import ProfileError, UnknownProfileError
from serve.kvcache import BUILTIN_SPECS, plan
from serve.profiles import (
    REPO_ROOT,
    SERVED_MODEL_NAME,
    VLLM_MODULE,
    EngineProfile,
    builtin_profiles,
    get_profile,
    profile_names,
)

NAMES = ["a100-80g", "cpu-dev", "h100-80g", "l4-24g", "l40s-48g", "t4-16g"]


def _variant(name: str, **changes: Any) -> EngineProfile:
    """A named profile with some fields changed, validated like a new one."""
    return EngineProfile.model_validate(get_profile(name).model_dump() | changes)


def test_the_named_profiles_are_the_documented_ones() -> None:
    assert profile_names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_named_profile_validates_and_plans(name: str) -> None:
    profile = get_profile(name)
    assert EngineProfile.model_validate(profile.model_dump()) == profile
    result = plan(profile, spec=BUILTIN_SPECS[profile.architecture])
    assert result.concurrency >= 1
    assert result.request_tokens <= profile.max_model_len
    assert profile.served_model_name == SERVED_MODEL_NAME == "phi-3.5-vision"


@pytest.mark.parametrize("name", ["h100-80g", "a100-80g"])
def test_gpu_profiles_take_twenty_images_at_four_crops_in_one_request(name: str) -> None:
    """Microsoft's multi-frame example: ~20 slides at num_crops 4 (~15,000 image tokens)."""
    profile = get_profile(name)
    assert profile.limit_mm_per_prompt >= 20 and profile.multi_image_num_crops == 4
    result = plan(profile, spec=BUILTIN_SPECS[profile.architecture])
    assert result.multi_request_tokens >= 20 * 757 >= 15_000
    assert result.request_tokens <= profile.max_model_len
    assert result.concurrency >= 4


def test_cpu_dev_takes_twenty_images_within_the_tiny_checkpoints_positions() -> None:
    """The tiny checkpoint has 16k positions: 20 images fit at num_crops 3 (CI sends 1)."""
    profile = get_profile("cpu-dev")
    assert profile.limit_mm_per_prompt >= 20 and profile.max_model_len == 16384
    result = plan(profile, spec=BUILTIN_SPECS[profile.architecture])
    assert result.multi_request_tokens == 20 * 625 + 512 + 1024 <= profile.max_model_len


def test_l4_states_its_own_smaller_image_limit() -> None:
    profile = get_profile("l4-24g")
    assert profile.limit_mm_per_prompt == 8
    assert plan(profile, spec=BUILTIN_SPECS["phi-3.5-vision"]).concurrency >= 4
    with pytest.raises(ProfileError, match="max_model_len is 10,240"):
        plan(_variant("l4-24g", limit_mm_per_prompt=12), spec=BUILTIN_SPECS["phi-3.5-vision"])


def test_every_field_says_why() -> None:
    missing = [n for n, f in EngineProfile.model_fields.items() if not f.description]
    assert missing == []


def test_profiles_are_frozen_and_strict() -> None:
    profile = get_profile("cpu-dev")
    with pytest.raises(ValidationError):
        profile.port = 1
    with pytest.raises(ValidationError, match="extra"):
        EngineProfile.model_validate(profile.model_dump() | {"gpu_count": 2})


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(UnknownProfileError) as err:
        get_profile("tpu-v5")
    assert str(err.value) == f"unknown profile 'tpu-v5' (known: {', '.join(NAMES)})"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_crops": 8, "max_num_crops": 4}, "num_crops 8 exceeds max_num_crops 4"),
        ({"multi_image_num_crops": 8, "max_num_crops": 4}, "multi_image_num_crops 8 exceeds"),
        (
            {"enable_chunked_prefill": False, "max_num_batched_tokens": 8192},
            "without chunked prefill max_num_batched_tokens \\(8,192\\) must cover",
        ),
        ({"max_num_crops": 17}, "less than or equal to 16"),
        ({"max_num_batched_tokens": 2048}, "2,048 is below one worst-case image \\(2,653"),
        ({"gpu_memory_utilization": None}, "one of gpu_memory_utilization or kv_cache"),
        ({"kv_cache_memory_bytes": 10**10}, "one of gpu_memory_utilization or kv_cache"),
        ({"gpu_memory_gib": None}, "needs gpu_memory_gib"),
        ({"cpu_kvcache_space_gib": 4}, "cpu_kvcache_space_gib is for cpu"),
        ({"port": 70000}, "less than or equal to 65535"),
        ({"kv_block_size": 24}, "kv_block_size 24 must be a multiple of 16 on cuda"),
    ],
)
def test_cross_field_rules_refuse_bad_gpu_profiles(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _variant("h100-80g", **changes)


def test_cpu_profile_needs_a_kv_space_and_no_gpu_settings() -> None:
    with pytest.raises(ValidationError, match="needs one of cpu_kvcache_space_gib"):
        _variant("cpu-dev", cpu_kvcache_space_gib=None)
    with pytest.raises(ValidationError, match="needs one of cpu_kvcache_space_gib"):
        _variant("cpu-dev", kv_cache_memory_bytes=2**30)
    exact = _variant("cpu-dev", cpu_kvcache_space_gib=None, kv_cache_memory_bytes=2**31)
    assert "VLLM_CPU_KVCACHE_SPACE" not in exact.vllm_env()
    assert plan(exact, spec=BUILTIN_SPECS["tiny-phi3v"]).kv_budget_bytes == 2**31
    with pytest.raises(ValidationError, match="are for cuda"):
        _variant("cpu-dev", quantization="fp8")


def test_block_size_defaults_to_the_devices_and_cpu_takes_multiples_of_32() -> None:
    assert get_profile("cpu-dev").block_size == 32  # finer prefix reuse than CPU's 128
    assert _variant("cpu-dev", kv_block_size=None).block_size == 128
    assert "--block-size" not in _variant("cpu-dev", kv_block_size=None).to_vllm_args()
    assert get_profile("h100-80g").block_size == 16
    with pytest.raises(ValidationError, match="kv_block_size 48 must be a multiple of 32 on cpu"):
        _variant("cpu-dev", kv_block_size=48)


def test_smaller_max_num_crops_allows_a_smaller_batch() -> None:
    profile = _variant(
        "cpu-dev", num_crops=4, max_num_crops=4, max_num_batched_tokens=781,
        enable_chunked_prefill=True,
    )  # fmt: skip
    assert profile.max_num_batched_tokens == 781


def test_with_overrides_replaces_only_what_is_given(tmp_path: Path) -> None:
    base = get_profile("h100-80g")
    changed = base.with_overrides(host="0.0.0.0", port=9001, model=str(tmp_path))
    assert (changed.host, changed.port, changed.model) == ("0.0.0.0", 9001, str(tmp_path))
    assert changed.model_dump(exclude={"host", "port", "model"}) == base.model_dump(
        exclude={"host", "port", "model"}
    )
    assert base.with_overrides() == base
    with pytest.raises(ProfileError, match="profile h100-80g: port"):
        base.with_overrides(port=0)


def test_cpu_dev_uses_the_tiny_checkpoint_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISION_STACK_TINY_DIR", raising=False)
    assert get_profile("cpu-dev").model == str(REPO_ROOT / ".cache" / "tiny-phi3v")
    monkeypatch.setenv("VISION_STACK_TINY_DIR", "/srv/tiny")
    assert get_profile("cpu-dev").model == "/srv/tiny"


def test_vllm_env_sets_the_cpu_knobs_only_on_cpu() -> None:
    assert get_profile("cpu-dev").vllm_env() == {
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_CPU_OMP_THREADS_BIND": "auto",
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    assert get_profile("h100-80g").vllm_env() == {}


def test_command_uses_the_module_entry_point() -> None:
    argv = get_profile("cpu-dev").command(python="python3")
    assert argv[:3] == ["python3", "-m", VLLM_MODULE]
    assert VLLM_MODULE == "vllm.entrypoints.openai.api_server"


def test_prefix_caching_can_be_turned_off() -> None:
    args = _variant("h100-80g", enable_prefix_caching=False).to_vllm_args()
    assert "--no-enable-prefix-caching" in args and "--enable-prefix-caching" not in args


# vLLM's own parser: the only authority on what `vllm serve` accepts.


@pytest.fixture(scope="module")
def vllm_parser() -> argparse.ArgumentParser:
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")  # never load AVX-512 kernels here
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    return make_arg_parser(FlexibleArgumentParser())


@pytest.mark.parametrize("name", NAMES)
def test_vllm_parser_accepts_profile_args(vllm_parser: argparse.ArgumentParser, name: str) -> None:
    profile = get_profile(name)
    parsed = vllm_parser.parse_args(profile.to_vllm_args())
    assert parsed.model == profile.model
    assert parsed.served_model_name == [SERVED_MODEL_NAME]
    assert (parsed.host, parsed.port) == (profile.host, profile.port)
    assert parsed.dtype == profile.dtype
    assert parsed.max_model_len == profile.max_model_len
    assert parsed.max_num_seqs == profile.max_num_seqs
    assert parsed.max_num_batched_tokens == profile.max_num_batched_tokens
    assert parsed.limit_mm_per_prompt == {"image": profile.limit_mm_per_prompt}
    assert parsed.mm_processor_kwargs == {"num_crops": profile.num_crops}
    assert parsed.trust_request_mm_kwargs is True
    assert parsed.structured_outputs_config.backend == "xgrammar"
    assert parsed.structured_outputs_config.disable_any_whitespace is True
    assert parsed.kv_cache_dtype == profile.kv_cache_dtype
    assert parsed.quantization == profile.quantization
    if profile.gpu_memory_utilization is not None:
        assert parsed.gpu_memory_utilization == pytest.approx(profile.gpu_memory_utilization)
    assert parsed.kv_cache_memory_bytes == profile.kv_cache_memory_bytes
    assert parsed.enable_prefix_caching is True
    assert parsed.trust_remote_code is True
    assert parsed.enforce_eager is profile.enforce_eager
    assert parsed.block_size == profile.kv_block_size  # None: vLLM picks the device default


def test_vllm_parser_reads_l4_as_fp8(vllm_parser: argparse.ArgumentParser) -> None:
    parsed = vllm_parser.parse_args(get_profile("l4-24g").to_vllm_args())
    assert (parsed.quantization, parsed.kv_cache_dtype) == ("fp8", "fp8")


def test_vllm_parser_takes_an_exact_kv_budget(vllm_parser: argparse.ArgumentParser) -> None:
    profile = _variant("h100-80g", gpu_memory_utilization=None, kv_cache_memory_bytes=2**35)
    parsed = vllm_parser.parse_args(profile.to_vllm_args())
    assert parsed.kv_cache_memory_bytes == 2**35
    assert "--gpu-memory-utilization" not in profile.to_vllm_args()


def test_vllm_parser_would_catch_a_wrong_flag(vllm_parser: argparse.ArgumentParser) -> None:
    # The acceptance tests above mean something only if the parser refuses bad input.
    with pytest.raises(SystemExit):
        vllm_parser.parse_args([*get_profile("cpu-dev").to_vllm_args(), "--kv-cache-dtype", "x"])
    with pytest.raises(SystemExit):
        vllm_parser.parse_args(["--structured-outputs-backend", "xgrammar"])


def test_json_flags_are_compact_json() -> None:
    args = get_profile("cpu-dev").to_vllm_args()
    config = json.loads(args[args.index("--structured-outputs-config") + 1])
    assert config == {"backend": "xgrammar", "disable_any_whitespace": True}
    assert builtin_profiles()["cpu-dev"].to_vllm_args() == args
