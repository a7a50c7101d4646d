"""KV-cache arithmetic: known Phi-3.5-vision values, vLLM's block arithmetic, refusals."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from serve.errors import ProfileError
from serve.kvcache import (
    PHI35_VISION,
    TINY_PHI3V,
    GiB,
    ModelSpec,
    blocks_per_sequence,
    image_tokens,
    kv_bytes_per_token,
    num_kv_blocks,
    plan,
    tokens_that_fit,
    vllm_reported_tokens,
    weight_bytes,
    worst_case_grid,
    worst_case_image_tokens,
)
from serve.profiles import get_profile

# The spike's tiny model from FACTS.md: 2 layers, 2 KV heads of 96, served in fp32.
SPIKE = TINY_PHI3V.model_copy(update={"sliding_window": 131072})


def test_phi35_vision_costs_384_kib_per_token_in_bf16() -> None:
    assert kv_bytes_per_token(PHI35_VISION, "bfloat16") == 393_216
    assert kv_bytes_per_token(PHI35_VISION, "fp8") == 196_608
    assert kv_bytes_per_token(PHI35_VISION, "float32") == 786_432


def test_phi35_vision_full_128k_context_needs_48_gib() -> None:
    assert kv_bytes_per_token(PHI35_VISION, "bfloat16") * 131_072 == 48 * GiB


def test_weight_bytes_per_dtype() -> None:
    assert weight_bytes(PHI35_VISION, "bfloat16") == 8_300_000_000
    assert weight_bytes(PHI35_VISION, "float32") == 16_600_000_000
    fp8 = weight_bytes(PHI35_VISION, "bfloat16", "fp8")
    # fp8 weights, but embedding and LM head stay bf16.
    assert fp8 == PHI35_VISION.num_params + PHI35_VISION.embedding_params
    assert 4.2e9 < fp8 < 4.4e9


def test_unknown_dtype_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="unknown dtype 'int3'.*bfloat16"):
        kv_bytes_per_token(PHI35_VISION, "int3")


@pytest.mark.parametrize(
    ("grid", "tokens"),
    [((2, 2), 757), ((4, 1), 781), ((1, 16), 2473), ((16, 1), 2653), ((4, 4), 2509)],
)
def test_image_tokens_for_a_crop_grid(grid: tuple[int, int], tokens: int) -> None:
    # 757: a 640×480 image at num_crops 4; 781: 300×1200 (FACTS.md); 2,473: a wide strip.
    assert image_tokens(*grid) == tokens


def test_worst_case_image_is_the_tallest_strip() -> None:
    assert worst_case_grid(16) == (16, 1)
    assert worst_case_image_tokens(16) == 2653
    assert worst_case_image_tokens(4) == 781
    assert worst_case_image_tokens(1) == 313
    for n in range(1, 17):
        brute = max(
            image_tokens(h, w) for h in range(1, n + 1) for w in range(1, n + 1) if h * w <= n
        )
        assert worst_case_image_tokens(n) == brute == 156 * (n + 1) + 1


def test_worst_case_needs_a_positive_crop_count() -> None:
    with pytest.raises(ProfileError, match="num_crops must be at least 1"):
        worst_case_grid(0)


def test_block_arithmetic_matches_what_vllm_logged_for_full_attention() -> None:
    # Seen from vLLM 0.32 CPU on the tiny checkpoint, VLLM_CPU_KVCACHE_SPACE=1,
    # max_model_len 8192: "CPU KV cache size: 349,440 tokens ... 42.66x".
    blocks = num_kv_blocks(TINY_PHI3V, GiB, "float32", 128)
    assert blocks == 2730
    assert tokens_that_fit(TINY_PHI3V, GiB, "float32", 128) == 349_440  # not 349,525
    seq = blocks_per_sequence(TINY_PHI3V, 8192, 128)
    assert seq == 64
    assert vllm_reported_tokens(blocks, 8192, seq) == 349_440
    # The same engine with --block-size 32 (cpu-dev) logged "349,504 tokens ... 42.66x".
    blocks = num_kv_blocks(TINY_PHI3V, GiB, "float32", 32)
    seq = blocks_per_sequence(TINY_PHI3V, 8192, 32)
    assert (blocks, seq) == (10_922, 256)
    assert vllm_reported_tokens(blocks, 8192, seq) == 349_504


@pytest.mark.parametrize(("max_model_len", "logged"), [(8192, 344_064), (4096, 338_850)])
def test_sliding_window_adds_one_block_per_sequence(max_model_len: int, logged: int) -> None:
    # 344,064 is the FACTS.md number (a config with sliding_window 131072); both values were
    # reproduced with vLLM 0.32 CPU on a 2-layer Phi3 with that window.
    blocks = num_kv_blocks(SPIKE, GiB, "float32", 128)
    seq = blocks_per_sequence(SPIKE, max_model_len, 128, in_flight_tokens=4096)
    assert seq == max_model_len // 128 + 1
    assert vllm_reported_tokens(blocks, max_model_len, seq) == logged


def test_sliding_window_caps_blocks_held_by_long_sequences() -> None:
    spec = TINY_PHI3V.model_copy(update={"sliding_window": 1024})
    assert blocks_per_sequence(spec, 100_000, 128, in_flight_tokens=2048) == 25  # 3071 → 24+1


def _write_checkpoint(path: Path, config: Mapping[str, object]) -> None:
    path.mkdir()
    (path / "config.json").write_text(json.dumps(config))
    save_file(
        {"model.embed_tokens.weight": torch.zeros(10, 4), "model.layers.0.w": torch.zeros(3, 5)},
        str(path / "model-00001-of-00002.safetensors"),
    )
    save_file(
        {"lm_head.weight": torch.zeros(10, 4), "model.vision_embed_tokens.glb_GN": torch.zeros(7)},
        str(path / "model-00002-of-00002.safetensors"),
    )


def test_model_spec_reads_config_and_safetensors_headers(tmp_path: Path) -> None:
    config = {
        "hidden_size": 3072,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "num_hidden_layers": 32,
        "vocab_size": 32064,
        "sliding_window": 131072,
    }
    _write_checkpoint(tmp_path / "ckpt", config)
    spec = ModelSpec.from_checkpoint(tmp_path / "ckpt")
    assert (spec.num_layers, spec.num_kv_heads, spec.head_dim) == (32, 8, 96)
    assert spec.num_params == 40 + 15 + 40 + 7
    assert spec.embedding_params == 80  # vision_embed_tokens is not the token embedding
    assert spec.sliding_window == 131072


def test_model_spec_honours_explicit_head_dim_and_zero_window(tmp_path: Path) -> None:
    config = {
        "hidden_size": 192,
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "vocab_size": 100,
        "head_dim": 128,
        "sliding_window": 0,
    }
    _write_checkpoint(tmp_path / "ckpt", config)
    spec = ModelSpec.from_checkpoint(tmp_path / "ckpt")
    assert (spec.num_kv_heads, spec.head_dim, spec.sliding_window) == (2, 128, None)


def test_model_spec_refuses_incomplete_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no config.json"):
        ModelSpec.from_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(ProfileError, match="lacks 'num_attention_heads'"):
        ModelSpec.from_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(
        json.dumps(
            {"hidden_size": 8, "num_attention_heads": 1, "num_hidden_layers": 1, "vocab_size": 4}
        )
    )
    with pytest.raises(ProfileError, match=r"no \*.safetensors"):
        ModelSpec.from_checkpoint(tmp_path)
    (tmp_path / "bad.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00nope!")
    with pytest.raises(ProfileError, match="not JSON"):
        ModelSpec.from_checkpoint(tmp_path)


def test_cpu_dev_plan_predicts_vllms_logged_capacity() -> None:
    result = plan(get_profile("cpu-dev"), spec=TINY_PHI3V)
    assert result.kv_bytes_per_token == 3072
    assert result.kv_budget_bytes == GiB
    assert (result.block_size, result.num_blocks, result.tokens_fit) == (32, 10_922, 349_504)
    assert result.vllm_reported_tokens == 349_504
    assert result.vllm_max_concurrency == pytest.approx(21.33, abs=0.005)
    assert result.single_request_tokens == 2653 + 512 + 1024
    assert result.request_tokens == result.multi_request_tokens == 20 * 625 + 512 + 1024
    assert result.concurrency_by_kv == 10_921 // (14_036 // 32 + 1) == 24
    assert result.concurrency == 8  # max_num_seqs caps it


def test_h100_plan_budget_is_utilisation_minus_weights_minus_overhead() -> None:
    profile = get_profile("h100-80g")
    result = plan(profile, spec=PHI35_VISION)
    expected = int(0.90 * 79.18 * GiB) - 8_300_000_000 - 3 * GiB
    assert result.kv_budget_bytes == expected
    assert result.num_blocks == expected // (16 * 393_216)
    assert result.request_tokens == 24 * 781 + 1024 + 2048 == 21_816
    assert result.concurrency_by_kv == (result.num_blocks - 1) // (-(-21_816 // 16) + 1)
    assert result.concurrency_by_kv >= 6


def test_l4_fits_several_full_requests_only_thanks_to_fp8() -> None:
    profile = get_profile("l4-24g")
    assert plan(profile, spec=PHI35_VISION).concurrency >= 4
    bf16 = profile.model_copy(update={"quantization": None, "kv_cache_dtype": "auto"})
    assert plan(bf16, spec=PHI35_VISION).concurrency < 4


def test_plan_refuses_a_context_too_short_for_one_full_request() -> None:
    profile = get_profile("cpu-dev").model_copy(update={"max_model_len": 12288})
    with pytest.raises(ProfileError) as err:
        plan(profile, spec=TINY_PHI3V)
    message = str(err.value)
    assert "14,036 tokens" in message and "20 images × 625 at num_crops 3" in message
    assert "max_model_len is 12,288" in message
    one_image = profile.model_copy(update={"limit_mm_per_prompt": 1, "max_model_len": 4096})
    with pytest.raises(ProfileError, match="4,189 tokens \\(1 images × 2,653 at num_crops 16"):
        plan(one_image, spec=TINY_PHI3V)


def test_plan_refuses_a_kv_budget_below_one_sequence() -> None:
    profile = get_profile("h100-80g").model_copy(
        update={"gpu_memory_utilization": None, "kv_cache_memory_bytes": 2 * GiB}
    )
    with pytest.raises(ProfileError) as err:
        plan(profile, spec=PHI35_VISION)
    message = str(err.value)
    assert "341 blocks" in message and "max_model_len 24,576" in message
    assert "1,537 blocks" in message  # 24,576 / 16 + 1 for the sliding window


def test_plan_refuses_weights_larger_than_the_gpu_share() -> None:
    profile = get_profile("h100-80g").model_copy(update={"gpu_memory_gib": 10.0})
    with pytest.raises(ProfileError, match=r"no GPU memory left.*0\.9 × 10 GiB.*7\.73 GiB"):
        plan(profile, spec=PHI35_VISION)
