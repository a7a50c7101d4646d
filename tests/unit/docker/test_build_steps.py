"""The weights stage of docker/vllm.Dockerfile, run for real outside Docker: its two RUN
commands are executed with bash (the stage's SHELL), their absolute paths mapped into a temp
folder, `hf` replaced by a stand-in that records its arguments and writes a checkpoint with
Microsoft's layout. What runs is the Dockerfile's own shell text, quoting and all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.docker.files import DOCKER, REPO, Dockerfile, Instruction

DF = Dockerfile.read(DOCKER / "vllm.Dockerfile")
WEIGHTS = DF.stages[0]

FAKE_HF = """#!/bin/sh
# Stand-in for `hf download REPO --revision REV --local-dir DIR`: records the call, copies a
# checkpoint shaped like Microsoft's into DIR.
printf '%s\\n' "$@" > "$CALLS"
printf '%s' "${HF_TOKEN-<unset>}" > "$CALLS.token"
while [ $# -gt 0 ]; do
  if [ "$1" = "--local-dir" ]; then dir="$2"; fi
  shift
done
mkdir -p "$dir" && cp -R "$STAND_IN"/. "$dir"/
"""


def shell_of(run: Instruction, paths: dict[str, str]) -> str:
    """The RUN's command without its --mount flags, absolute paths mapped."""
    words = run.args.split(" ")
    command = " ".join(w for w in words if not w.startswith("--mount="))
    for old, new in sorted(paths.items(), key=lambda kv: -len(kv[0])):
        command = command.replace(old, new)
    return command


@pytest.fixture
def sandbox(tiny_checkpoint: Path, tmp_path: Path) -> dict[str, Path]:
    """Folders standing in for /model-cache, /tmp/build, /run/secrets, and a PATH whose
    `python3` is this interpreter and whose `hf` is FAKE_HF."""
    stand_in = tmp_path / "stand-in"
    stand_in.mkdir()
    for item in tiny_checkpoint.iterdir():
        if item.is_file():
            shutil.copyfile(item, stand_in / item.name)
    config = json.loads((stand_in / "config.json").read_text())
    config["auto_map"]["AutoModelForCausalLM"] = "modeling_phi3_v.Phi3VForCausalLM"
    (stand_in / "config.json").write_text(json.dumps(config))
    (stand_in / "modeling_phi3_v.py").write_text("raise ImportError('Microsoft code ran')\n")

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # A wrapper, not a symlink: a venv's Python finds its packages from the path it runs as.
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    (bin_dir / "hf").write_text(FAKE_HF)
    (bin_dir / "hf").chmod(0o755)

    build = tmp_path / "build"
    build.mkdir()
    (build / "patch_checkpoint.py").symlink_to(DOCKER / "patch_checkpoint.py")
    (build / "serve").symlink_to(REPO / "serve")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    return {
        "root": tmp_path, "bin": bin_dir, "build": build, "secrets": secrets,
        "model_cache": tmp_path / "model-cache", "stand_in": stand_in,
    }  # fmt: skip


def run_step(
    run: Instruction, box: dict[str, Path], **env: str
) -> subprocess.CompletedProcess[str]:
    paths = {
        "/model-cache": str(box["model_cache"]),
        "/tmp/build": str(box["build"]),
        "/tmp/hf": str(box["root"] / "hf-home"),
        "/run/secrets/hf_token": str(box["secrets"] / "hf_token"),
    }
    shell = WEIGHTS.last("SHELL")
    assert shell is not None
    argv = json.loads(shell.args)
    args = {
        "MODEL_ID": DF.global_args["MODEL_ID"],
        "MODEL_REVISION": DF.global_args["MODEL_REVISION"],
    }
    full_env = {
        "PATH": f"{box['bin']}:/usr/bin:/bin",
        "HOME": str(box["root"]),
        "CALLS": str(box["root"] / "hf-calls"),
        "STAND_IN": str(box["stand_in"]),
        **WEIGHTS.env(), **args, **env,
    }  # fmt: skip
    return subprocess.run(
        [*argv, shell_of(run, paths)],
        env=full_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def download_step() -> Instruction:
    (run,) = [i for i in WEIGHTS.all("RUN") if "hf download" in i.args]
    return run


def patch_step() -> Instruction:
    (run,) = [i for i in WEIGHTS.all("RUN") if "patch_checkpoint.py" in i.args]
    return run


def test_download_asks_for_the_pinned_revision_anonymously(sandbox: dict[str, Path]) -> None:
    result = run_step(download_step(), sandbox)
    assert result.returncode == 0, result.stderr
    calls = (sandbox["root"] / "hf-calls").read_text().split()
    assert calls[:2] == ["download", DF.global_args["MODEL_ID"]]
    assert calls[calls.index("--revision") + 1] == DF.global_args["MODEL_REVISION"]
    assert (sandbox["root"] / "hf-calls.token").read_text() == "<unset>"


def test_download_passes_the_secret_token_only_through_the_environment(
    sandbox: dict[str, Path],
) -> None:
    (sandbox["secrets"] / "hf_token").write_text("hf_example_not_a_real_token")
    result = run_step(download_step(), sandbox)
    assert result.returncode == 0, result.stderr
    assert (sandbox["root"] / "hf-calls.token").read_text() == "hf_example_not_a_real_token"
    assert "hf_example" not in (sandbox["root"] / "hf-calls").read_text(), "not an argument"
    assert "hf_example" not in result.stdout + result.stderr, "not in the build log"


@pytest.mark.parametrize("revision", ["main", "", "4a0d683"])
def test_download_refuses_a_revision_that_is_not_a_commit(
    sandbox: dict[str, Path], revision: str
) -> None:
    result = run_step(download_step(), sandbox, MODEL_REVISION=revision)
    assert result.returncode != 0
    assert "MODEL_REVISION must be a 40-character commit hash" in result.stderr
    assert not (sandbox["root"] / "hf-calls").exists(), "nothing was downloaded"


def test_patch_step_leaves_a_checkpoint_the_image_can_load(sandbox: dict[str, Path]) -> None:
    assert run_step(download_step(), sandbox).returncode == 0
    result = run_step(patch_step(), sandbox)
    assert result.returncode == 0, result.stderr
    assert "Phi3VProcessor" in result.stdout, "the processor loaded"
    assert "--trust-remote-code" in result.stdout, "serve args planned the checkpoint"
    model = sandbox["model_cache"] / "phi-3.5-vision-instruct"
    assert not (model / "modeling_phi3_v.py").exists()
    assert not (sandbox["root"] / "hf-home").exists(), "no cache left in the layer"
    for path in [model, *model.iterdir()]:
        mode = path.stat().st_mode
        assert mode & 0o004 and not mode & 0o022, f"{path.name}: {oct(mode)}"
        if path.is_dir():
            assert mode & 0o001


def test_runtime_stage_copies_what_the_weights_stage_wrote() -> None:
    model_dir = "/model-cache/phi-3.5-vision-instruct"
    assert f"--local-dir {model_dir}" in download_step().args
    assert model_dir in patch_step().args
    entry = DF.final.last("ENTRYPOINT")
    assert entry is not None and f"--model {model_dir}" in entry.args
    assert os.path.dirname(model_dir) + " " in " ".join(i.args for i in DF.final.all("COPY"))
