"""docker/patch_checkpoint.py, the build step that swaps our processor into the downloaded
Phi-3.5-vision checkpoint. The real checkpoint is 8 GB and cannot be downloaded here, so the
test builds a stand-in with Microsoft's layout: the tiny checkpoint's config and tokenizer,
Microsoft's ``auto_map`` entries, and remote-code files that fail if anything imports them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from PIL import Image
from transformers import AutoConfig, AutoProcessor

from serve.cli import main as serve_main
from serve.phi3v import REMOTE_CODE_FILES, num_image_tokens
from tests.unit.docker.files import DOCKER, REPO

SCRIPT = DOCKER / "patch_checkpoint.py"
POISON = 'raise ImportError("Microsoft remote code ran: it needs torchvision and transformers 4")\n'
MICROSOFT_FILES = (*REMOTE_CODE_FILES, "modeling_phi3_v.py", "image_embedding_phi3_v.py")


@pytest.fixture
def microsoft_layout(tiny_checkpoint: Path, tmp_path: Path) -> Path:
    """A checkpoint folder shaped like microsoft/Phi-3.5-vision-instruct at download time."""
    # A unique folder name: transformers caches remote code by the folder's name.
    folder = tmp_path / f"phi35-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    for item in tiny_checkpoint.iterdir():
        if item.name == "model.safetensors":
            (folder / item.name).symlink_to(item)
        elif item.is_file() and item.name not in MICROSOFT_FILES:
            shutil.copyfile(item, folder / item.name)
    (folder / "processor_config.json").unlink(missing_ok=True)
    for name in MICROSOFT_FILES:
        (folder / name).write_text(POISON)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {
        "AutoConfig": "configuration_phi3_v.Phi3VConfig",
        "AutoModelForCausalLM": "modeling_phi3_v.Phi3VForCausalLM",
    }
    (folder / "config.json").write_text(json.dumps(config))
    image = json.loads((folder / "preprocessor_config.json").read_text())
    image["auto_map"] = {
        "AutoProcessor": "processing_phi3_v.Phi3VProcessor",
        "AutoImageProcessor": "processing_phi3_v.Phi3VImageProcessor",
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(image))
    return folder


def run_patch(model: Path) -> subprocess.CompletedProcess[str]:
    """Exactly as the Dockerfile runs it: the script, the checkpoint, --code serve/phi3v."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(model), "--code", str(REPO / "serve" / "phi3v")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_stand_in_really_fails_before_the_patch(microsoft_layout: Path) -> None:
    with pytest.raises(ImportError, match="Microsoft remote code ran"):
        AutoConfig.from_pretrained(microsoft_layout, trust_remote_code=True)


def test_patched_checkpoint_loads_with_our_processor_only(microsoft_layout: Path) -> None:
    result = run_patch(microsoft_layout)
    assert result.returncode == 0, result.stderr
    assert "our Phi-3-vision processor" in result.stdout

    for name in REMOTE_CODE_FILES:
        ours = (REPO / "serve" / "phi3v" / name).read_bytes()
        assert (microsoft_layout / name).read_bytes() == ours, name
    assert not (microsoft_layout / "modeling_phi3_v.py").exists()
    assert not (microsoft_layout / "image_embedding_phi3_v.py").exists()
    config = json.loads((microsoft_layout / "config.json").read_text())
    assert config["auto_map"] == {"AutoConfig": "configuration_phi3_v.Phi3VConfig"}

    loaded = AutoConfig.from_pretrained(microsoft_layout, trust_remote_code=True)
    assert loaded.architectures == ["Phi3VForCausalLM"]
    processor = AutoProcessor.from_pretrained(microsoft_layout, trust_remote_code=True)
    assert type(processor).__name__ == "Phi3VProcessor"
    image_processor = processor.image_processor
    assert type(image_processor).__name__ == "Phi3VImageProcessor"
    expected = num_image_tokens(640, 480, 4)
    assert image_processor.calc_num_image_tokens_from_image_size(640, 480) == expected
    pixels = image_processor(Image.new("RGB", (640, 480), "white"), return_tensors="pt")
    assert tuple(pixels["pixel_values"].shape) == (1, 5, 3, 336, 336)


def test_patch_is_idempotent(microsoft_layout: Path) -> None:
    assert run_patch(microsoft_layout).returncode == 0
    first = {p.name: p.read_bytes() for p in microsoft_layout.iterdir() if p.is_file()}
    assert run_patch(microsoft_layout).returncode == 0
    second = {p.name: p.read_bytes() for p in microsoft_layout.iterdir() if p.is_file()}
    assert first == second


def test_build_time_profile_check_reads_the_patched_checkpoint(
    microsoft_layout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Dockerfile's `serve args --profile h100-80g --model …` step, on the stand-in."""
    assert run_patch(microsoft_layout).returncode == 0
    assert serve_main(["args", "--profile", "h100-80g", "--model", str(microsoft_layout)]) == 0
    out = capsys.readouterr().out
    assert f"--model {microsoft_layout}" in out and "--trust-remote-code" in out


@pytest.mark.parametrize("problem", ["no config", "not phi3v", "no code"])
def test_patch_refuses_what_it_cannot_patch(
    microsoft_layout: Path, tmp_path: Path, problem: str
) -> None:
    code = REPO / "serve" / "phi3v"
    if problem == "no config":
        (microsoft_layout / "config.json").unlink()
    elif problem == "not phi3v":
        config = json.loads((microsoft_layout / "config.json").read_text())
        config["architectures"] = ["LlamaForCausalLM"]
        (microsoft_layout / "config.json").write_text(json.dumps(config))
    else:
        code = tmp_path / "empty"
        code.mkdir()
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(microsoft_layout), "--code", str(code)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert (microsoft_layout / "modeling_phi3_v.py").exists(), "nothing changed"
