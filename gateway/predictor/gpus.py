"""Which engine profile a Replicate machine gets: the GPU it has, by name and memory.

Replicate offers T4, L40S, A100 (80 GB) and H100 cards (and multi-GPU variants of them; the
profiles use one card). The rule, first match wins (L40S before L4, whose name it contains):

    name contains H100 → h100-80g     name contains L40S → l40s-48g
    name contains A100 → a100-80g     name contains L4   → l4-24g
    name contains T4   → t4-16g       no GPU at all      → cpu-dev (the tiny checkpoint)

and the card must have the memory the profile was planned for (an A100 40 GB is refused, not
squeezed). ``COG_ENGINE_PROFILE`` names a profile outright for a card the rule does not know.

    gpu = first_gpu()                       # None without nvidia-smi or a card
    profile_name = profile_for(gpu)         # ProfileError with one line when none fits
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from serve.errors import ProfileError
from serve.profiles import get_profile

__all__ = ["GPU_RULES", "Gpu", "first_gpu", "parse_nvidia_smi", "profile_for"]

GPU_RULES: tuple[tuple[str, str], ...] = (
    ("H100", "h100-80g"),
    ("A100", "a100-80g"),
    ("L40S", "l40s-48g"),
    ("L4", "l4-24g"),
    ("T4", "t4-16g"),
)
"""(substring of the card's name, profile), in the order they are tried."""

MEMORY_SLACK = 0.97
"""nvidia-smi counts MiB of the whole card, torch (what profiles are planned with) a little
less: a card passes with 97% of the profile's planned memory."""


@dataclass(frozen=True)
class Gpu:
    """One card as nvidia-smi reports it."""

    name: str
    memory_gib: float


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """Cards from ``nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits``
    (one ``NAME, MIB`` line each)."""
    gpus = []
    for line in text.splitlines():
        name, _, mib = line.rpartition(",")
        if name.strip() and mib.strip().isdigit():
            gpus.append(Gpu(name.strip(), int(mib) / 1024))
    return gpus


def first_gpu() -> Gpu | None:
    """The first NVIDIA card of this machine, or None when there is none (or no driver)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    query = [smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(query, capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    gpus = parse_nvidia_smi(out.stdout)
    return gpus[0] if gpus else None


def profile_for(gpu: Gpu | None, override: str | None = None) -> str:
    """The profile for ``gpu`` by the rule above (``override`` wins); ProfileError naming the
    card and what was missing when none fits."""
    if override:
        get_profile(override)  # UnknownProfileError lists the known ones
        return override
    if gpu is None:
        return "cpu-dev"
    upper = gpu.name.upper()
    for needle, name in GPU_RULES:
        if needle in upper:
            planned = get_profile(name).gpu_memory_gib or 0.0
            if gpu.memory_gib < planned * MEMORY_SLACK:
                raise ProfileError(
                    f"GPU {gpu.name!r} has {gpu.memory_gib:.1f} GiB; profile {name} is planned "
                    f"for {planned:g} GiB (choose a larger card, or set COG_ENGINE_PROFILE)"
                )
            return name
    known = ", ".join(needle for needle, _ in GPU_RULES)
    raise ProfileError(
        f"no engine profile for GPU {gpu.name!r} ({gpu.memory_gib:.1f} GiB; known: {known}); "
        f"set COG_ENGINE_PROFILE to one of the serve profiles"
    )
