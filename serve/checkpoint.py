"""Reads what KV planning needs from a Hugging Face checkpoint folder, without loading it.

``config.json`` gives the shapes; the ``*.safetensors`` headers give the parameter counts.
A safetensors file starts with an 8-byte little-endian header length and a JSON header that
lists every tensor's dtype and shape, so counting parameters costs a few kilobytes of reads
even for a multi-gigabyte checkpoint.

    cfg = read_config(Path("/models/phi-3.5-vision"))
    counts = count_parameters(Path("/models/phi-3.5-vision"))
    counts.total, counts.embedding
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serve.errors import ProfileError

__all__ = ["ParameterCounts", "count_parameters", "read_config", "read_safetensors_header"]

_MAX_HEADER_BYTES = 100 * 1024 * 1024
"""safetensors itself refuses headers over 100 MB; a larger length means a corrupt file."""

_EMBEDDING_SUFFIXES = ("embed_tokens.weight", "lm_head.weight")
"""Token embedding and LM head. vLLM keeps both in the model dtype under fp8 quantization.
Phi3V's vision tower lives under ``vision_embed_tokens.`` and never ends in these."""


@dataclass(frozen=True)
class ParameterCounts:
    """Parameter totals of one checkpoint, summed over all its safetensors files."""

    total: int
    embedding: int
    """Of ``total``, the token-embedding and LM-head parameters (not fp8-quantized)."""


def read_config(path: Path) -> dict[str, Any]:
    """``config.json`` of the checkpoint folder as a dict; ProfileError when absent or bad."""
    config_path = path / "config.json"
    try:
        data = json.loads(config_path.read_text())
    except FileNotFoundError:
        raise ProfileError(f"no config.json in checkpoint folder {path}") from None
    except (OSError, ValueError) as exc:
        raise ProfileError(f"cannot read {config_path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{config_path} is not a JSON object")
    return data


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of one safetensors file (tensor name → dtype, shape, offsets)."""
    try:
        with path.open("rb") as f:
            prefix = f.read(8)
            if len(prefix) != 8:
                raise ProfileError(f"{path} is too short to be a safetensors file")
            (length,) = struct.unpack("<Q", prefix)
            if length > _MAX_HEADER_BYTES:
                raise ProfileError(f"{path}: header length {length:,} B is not plausible")
            raw = f.read(length)
    except OSError as exc:
        raise ProfileError(f"cannot read {path}: {exc}") from exc
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise ProfileError(f"{path}: safetensors header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise ProfileError(f"{path}: safetensors header is not a JSON object")
    return header


def count_parameters(path: Path) -> ParameterCounts:
    """Sum tensor element counts over every ``*.safetensors`` file in the folder."""
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise ProfileError(f"no *.safetensors files in checkpoint folder {path}")
    total = embedding = 0
    for file in files:
        for name, entry in read_safetensors_header(file).items():
            if name == "__metadata__" or not isinstance(entry, dict):
                continue
            numel = math.prod(int(d) for d in entry.get("shape", []))
            total += numel
            if name.endswith(_EMBEDDING_SUFFIXES):
                embedding += numel
    return ParameterCounts(total=total, embedding=embedding)
