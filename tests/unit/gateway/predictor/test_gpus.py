"""The GPU → engine profile rule, for every card Replicate offers and the ones it must refuse."""

from __future__ import annotations

import pytest

from gateway.predictor.gpus import Gpu, parse_nvidia_smi, profile_for
from serve.errors import ProfileError, UnknownProfileError


@pytest.mark.parametrize(
    ("smi_line", "profile"),
    [
        ("Tesla T4, 15360", "t4-16g"),
        ("NVIDIA L40S, 46068", "l40s-48g"),
        ("NVIDIA A100-SXM4-80GB, 81920", "a100-80g"),
        ("NVIDIA A100 80GB PCIe, 81920", "a100-80g"),
        ("NVIDIA H100 80GB HBM3, 81559", "h100-80g"),
        ("NVIDIA L4, 23034", "l4-24g"),
    ],
)
def test_each_replicate_gpu_gets_its_profile(smi_line: str, profile: str) -> None:
    (gpu,) = parse_nvidia_smi(smi_line + "\n")
    assert profile_for(gpu) == profile


def test_no_gpu_runs_the_tiny_checkpoint_on_cpu() -> None:
    assert profile_for(None) == "cpu-dev"


def test_a_card_smaller_than_its_profile_is_refused_in_one_line() -> None:
    with pytest.raises(ProfileError) as info:
        profile_for(Gpu("NVIDIA A100-SXM4-40GB", 40.0))
    message = str(info.value)
    assert "\n" not in message
    assert "'NVIDIA A100-SXM4-40GB' has 40.0 GiB; profile a100-80g is planned for" in message


def test_an_unknown_card_is_refused_naming_the_override() -> None:
    with pytest.raises(ProfileError, match="no engine profile for GPU 'Quadro RTX 8000'.*"):
        profile_for(Gpu("Quadro RTX 8000", 48.0))
    with pytest.raises(ProfileError, match="COG_ENGINE_PROFILE"):
        profile_for(Gpu("Quadro RTX 8000", 48.0))


def test_the_override_wins_and_must_name_a_profile() -> None:
    assert profile_for(Gpu("Quadro RTX 8000", 48.0), override="l40s-48g") == "l40s-48g"
    assert profile_for(None, override="h100-80g") == "h100-80g"
    with pytest.raises(UnknownProfileError, match="known: a100-80g"):
        profile_for(None, override="tpu")


def test_several_cards_are_parsed_in_order_and_junk_lines_skipped() -> None:
    text = "NVIDIA H100 80GB HBM3, 81559\nNVIDIA H100 80GB HBM3, 81559\n[N/A]\n"
    assert [g.name for g in parse_nvidia_smi(text)] == ["NVIDIA H100 80GB HBM3"] * 2
