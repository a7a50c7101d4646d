"""Point a downloaded Phi-3.5-vision checkpoint at our processor instead of Microsoft's code.

    python3 docker/patch_checkpoint.py /model-cache/phi-3.5-vision-instruct --code serve/phi3v

Run at image build time (docker/vllm.Dockerfile), after ``hf download``. It

- copies our ``configuration_phi3_v.py``, ``image_processing_phi3_v.py`` and
  ``processing_phi3_v.py`` over Microsoft's files of the same names;
- removes Microsoft's model code (``modeling_phi3_v.py``, ``image_embedding_phi3_v.py``):
  vLLM runs its own ``Phi3VForCausalLM`` and never imports it, so after this no code from the
  checkpoint repository runs at all;
- rewrites ``auto_map`` in ``config.json``, ``preprocessor_config.json`` and
  ``processor_config.json`` to name only our classes.

Why always ours, even on a GPU image whose transformers might load Microsoft's files: that code
targets transformers 4.x (vLLM's own model registry marks it working only up to 4.48) while
vLLM 0.32 ships transformers 5; it needs torchvision; and ours is the code the CPU stack and
the tests run, with the same token counts. One processor everywhere, no untested path.

Idempotent. Standard library only: it runs before anything of ours is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

__all__ = ["OUR_FILES", "REMOVED_FILES", "main", "patch"]

OUR_FILES = (
    "configuration_phi3_v.py",
    "geometry.py",
    "image_processing_phi3_v.py",
    "processing_phi3_v.py",
)
"""Our modules, copied under the names Microsoft's ``auto_map`` already uses."""
REMOVED_FILES = ("modeling_phi3_v.py", "image_embedding_phi3_v.py")
"""Microsoft's model code; vLLM does not use it."""
MARKER = ".vision-stack-processor"
"""Written last: a digest of our files, so a build log or a test can tell what is inside."""

CONFIG_AUTO_MAP = {"AutoConfig": "configuration_phi3_v.Phi3VConfig"}
PROCESSOR_AUTO_MAP = {"AutoProcessor": "processing_phi3_v.Phi3VProcessor"}
IMAGE_PROCESSOR_AUTO_MAP = {
    "AutoImageProcessor": "image_processing_phi3_v.Phi3VImageProcessor",
    "AutoProcessor": "processing_phi3_v.Phi3VProcessor",
}


class PatchError(Exception):
    """The folder is not a Phi-3-vision checkpoint, or our code is missing."""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PatchError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise PatchError(f"{path} is not a JSON object")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def patch(model: Path, code: Path) -> str:
    """Patch the checkpoint folder ``model`` with our modules from ``code``; their digest."""
    config_path = model / "config.json"
    if not config_path.is_file():
        raise PatchError(f"{model} has no config.json (did the download finish?)")
    config = _read_json(config_path)
    if config.get("architectures") != ["Phi3VForCausalLM"]:
        raise PatchError(f"{model} is not a Phi3VForCausalLM checkpoint: "
                         f"architectures={config.get('architectures')!r}")  # fmt: skip
    missing = [name for name in OUR_FILES if not (code / name).is_file()]
    if missing:
        raise PatchError(f"{code} lacks {', '.join(missing)}")

    digest = hashlib.sha256()
    for name in OUR_FILES:
        shutil.copyfile(code / name, model / name)
        digest.update(name.encode() + b"\0" + (code / name).read_bytes())
    for name in REMOVED_FILES:
        (model / name).unlink(missing_ok=True)

    config["auto_map"] = dict(CONFIG_AUTO_MAP)
    _write_json(config_path, config)

    image_path = model / "preprocessor_config.json"
    image_config = _read_json(image_path) if image_path.is_file() else {}
    image_config |= {
        "auto_map": dict(IMAGE_PROCESSOR_AUTO_MAP),
        "image_processor_type": "Phi3VImageProcessor",
        "processor_class": "Phi3VProcessor",
    }
    image_config.setdefault("num_crops", 4)
    image_config.setdefault("num_img_tokens", 144)
    _write_json(image_path, image_config)

    processor_path = model / "processor_config.json"
    processor_config = _read_json(processor_path) if processor_path.is_file() else {}
    processor_config |= {"auto_map": dict(PROCESSOR_AUTO_MAP), "processor_class": "Phi3VProcessor"}
    _write_json(processor_path, processor_config)

    hexdigest = digest.hexdigest()
    (model / MARKER).write_text(hexdigest + "\n")
    return hexdigest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="checkpoint folder to patch in place")
    parser.add_argument("--code", type=Path, required=True,
                        help="folder with our processor modules (serve/phi3v)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        digest = patch(args.model, args.code)
    except PatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"patched {args.model}: our Phi-3-vision processor, sha256 {digest[:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
