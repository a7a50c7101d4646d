"""``python -m serve plan|args|run|tiny``: the engine side from the command line.

    python -m serve plan --profile h100-80g     # the KV arithmetic, as a table
    python -m serve args --profile cpu-dev      # the vLLM command line, shell-quoted
    python -m serve run  --profile cpu-dev --port 8001   # start vLLM, wait, stop on a signal
    python -m serve tiny --out .cache/tiny-phi3v          # build the tiny checkpoint

Expected failures (unknown profile, missing model, a profile that cannot hold one request,
vLLM dying at start-up) print one ``error: …`` line on stderr and exit 1, without traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path

from serve.errors import ModelNotFoundError, ServeError
from serve.kvcache import GiB, KVPlan, plan
from serve.launcher import ServerProcess, health_url
from serve.profiles import EngineProfile, get_profile, profile_names, tiny_checkpoint_dir
from serve.stopsignals import StopRequested, StopSignals

__all__ = ["build_parser", "format_plan", "main", "resolve_model"]

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="python -m serve", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    known = ", ".join(profile_names())
    for name, text in [
        ("plan", "print the KV-cache arithmetic for a profile"),
        ("args", "print the vLLM command line for a profile"),
        ("run", "start vLLM with a profile; SIGINT, SIGTERM or SIGHUP stops it"),
    ]:
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("--profile", required=True, help=f"one of: {known}")
        cmd.add_argument("--model", help="checkpoint folder (or hub id) instead of the profile's")
        if name != "plan":
            cmd.add_argument("--host", help="address vLLM binds (default: the profile's)")
            cmd.add_argument("--port", type=int, help="port vLLM binds (default: the profile's)")
        for flag, kind, text in KV_OVERRIDES:
            env = "SERVE_" + flag.upper().replace("-", "_")
            cmd.add_argument(
                f"--{flag}",
                type=kind,
                default=_from_env(env, kind),
                help=f"{text} (default: ${env}, else the profile's)",
            )
    run = sub.choices["run"]
    run.add_argument("--startup-timeout", type=float, default=600.0, metavar="SECONDS")
    run.add_argument("--grace", type=float, default=30.0, metavar="SECONDS",
                     help="wait this long after SIGTERM before SIGKILL")  # fmt: skip
    tiny = sub.add_parser("tiny", help="build the tiny Phi3V checkpoint (cpu-dev's model)")
    tiny.add_argument("--out", type=Path, help=f"folder (default: {tiny_checkpoint_dir()})")
    return parser


KV_OVERRIDES: list[tuple[str, type, str]] = [
    ("max-model-len", int, "longest sequence (prompt + answer) in tokens"),
    ("max-num-seqs", int, "requests scheduled at once"),
    ("gpu-memory-utilization", float, "share of GPU memory vLLM may use (KV budget, GPU)"),
    ("kv-cache-memory-bytes", int, "KV cache size in bytes (replaces the other budgets)"),
    ("cpu-kvcache-space-gib", int, "KV cache size in GiB (CPU profiles)"),
]
"""KV-cache knobs an operator may tune per host without a new profile; each is also read from
``SERVE_<FLAG>`` so that containers set them through the environment. ``plan`` checks the
result like any profile."""


def _from_env(name: str, kind: type) -> object:
    """A flag's default from the environment; an empty variable counts as unset."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise SystemExit(f"error: {name}={text!r} is not a valid {kind.__name__}") from None


def _profile(args: argparse.Namespace) -> EngineProfile:
    profile = get_profile(args.profile)
    knobs = {
        flag.replace("-", "_"): getattr(args, flag.replace("-", "_")) for flag, _, _ in KV_OVERRIDES
    }
    return profile.with_overrides(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        model=args.model,
        **knobs,
    )


def _size(n: float) -> str:
    if abs(n) >= GiB:
        return f"{n / GiB:.2f} GiB"
    if abs(n) >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n:,.0f} B"


def _count(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


def format_plan(p: KVPlan, profile: EngineProfile) -> str:
    """The plan as an aligned three-column table: quantity, value, how it was computed."""
    s = p.spec
    h, w = p.worst_grid
    mh, mw = p.multi_grid
    rows = [
        ("model", s.name, p.spec_source),
        ("KV per token", f"{p.kv_bytes_per_token:,} B",
         f"2 × {s.num_layers} layers × {s.num_kv_heads} KV heads × {s.head_dim} × {p.kv_dtype}"),
        ("weights", _size(p.weight_bytes),
         f"{_count(s.num_params)} params, {p.weight_dtype}"
         + (f", {profile.quantization}" if profile.quantization else "")),
        ("KV budget", _size(p.kv_budget_bytes), p.kv_budget_source),
        ("KV blocks", f"{p.num_blocks:,}",
         f"{p.block_size} tokens × {_size(p.block_bytes)} per block"),
        ("tokens that fit", f"{p.tokens_fit:,}", "blocks × block size"),
        ("vLLM will report", f"{p.vllm_reported_tokens:,} tokens",
         f"{p.vllm_max_concurrency:.2f}× max_model_len {p.max_model_len:,}"),
        ("worst-case image", f"{p.image_tokens:,} tokens",
         f"num_crops {profile.max_num_crops}, grid {h}×{w}"),
        ("one-image request", f"{p.single_request_tokens:,} tokens",
         f"1 × {p.image_tokens:,} image + {p.text_tokens:,} text + {p.output_tokens:,} output"),
        ("multi-image request", f"{p.multi_request_tokens:,} tokens",
         f"{p.images} images × {p.multi_image_tokens:,} (num_crops"
         f" {profile.multi_image_num_crops}, grid {mh}×{mw}) + {p.text_tokens:,} text"
         f" + {p.output_tokens:,} output"),
        ("one full request", f"{p.request_tokens:,} tokens",
         f"the larger of the two ≤ max_model_len {p.max_model_len:,}"),
        ("concurrent requests", f"{p.concurrency}",
         f"{p.concurrency_by_kv} full requests by KV ({p.request_blocks:,} blocks each),"
         f" max_num_seqs {profile.max_num_seqs}"),
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"profile {p.profile} ({profile.device})"]
    lines += [f"  {a:<{widths[0]}}  {b:>{widths[1]}}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def resolve_model(profile: EngineProfile, *, build_tiny: bool) -> EngineProfile:
    """Make sure the model exists: build cpu-dev's tiny checkpoint, or refuse a missing folder.

    A value that is not an existing path but looks like ``owner/name`` is left to vLLM as a
    Hugging Face id.
    """
    path = Path(profile.model).expanduser()
    if build_tiny:
        path = _build_tiny(path)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"model folder {path} has no config.json")
        return profile.with_overrides(model=str(path.resolve()))
    if path.exists():
        raise ModelNotFoundError(f"model path {path} is not a folder")
    if _HUB_ID.fullmatch(profile.model) and not profile.model.startswith((".", "~")):
        return profile
    raise ModelNotFoundError(f"model folder not found: {path}")


def _run(args: argparse.Namespace) -> int:
    profile = _profile(args)
    build_tiny = profile.architecture == "tiny-phi3v" and args.model is None
    profile = resolve_model(profile, build_tiny=build_tiny)
    plan(profile)  # refuse before starting anything that cannot hold one request
    env = {**os.environ, **profile.vllm_env()}
    engine = ServerProcess(profile.command(), env, name="vLLM")
    print(f"serve: starting vLLM: {_shell(profile)}", flush=True)
    try:
        with StopSignals() as signals:
            try:
                engine.start()
                engine.wait_until_healthy(
                    health_url(profile.host, profile.port), args.startup_timeout
                )
                base = health_url(profile.host, profile.port).removesuffix("/health")
                print(f"serve: ready: {profile.served_model_name} at {base}/v1"
                      f" (profile {profile.name}, pid {engine.pid})", flush=True)  # fmt: skip
                code = engine.wait()
                raise ServeError(f"vLLM exited with code {code}: {engine.failure_reason()}")
            finally:
                signals.hold()
                engine.stop(args.grace)  # also when vLLM exited: its engine core may not have
    except StopRequested:
        print("serve: stopped", flush=True)
        return 0


def _shell(profile: EngineProfile) -> str:
    env = [f"{k}={shlex.quote(v)}" for k, v in profile.vllm_env().items()]
    return " ".join([*env, shlex.join(profile.command())])


def _build_tiny(path: Path) -> Path:
    """Build (or refresh) the tiny checkpoint; torch is imported only when needed."""
    try:
        from serve.tiny import ensure_checkpoint

        return ensure_checkpoint(path)
    except (ImportError, OSError) as exc:
        raise ServeError(f"cannot build the tiny checkpoint at {path}: {exc}") from exc


def _tiny(args: argparse.Namespace) -> int:
    print(_build_tiny(args.out or tiny_checkpoint_dir()))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; expected failures become one stderr line and exit code 1."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "plan":
            profile = _profile(args)
            print(format_plan(plan(profile), profile))
        elif args.command == "args":
            profile = _profile(args)
            plan(profile)
            print(_shell(profile))
        elif args.command == "run":
            return _run(args)
        else:
            return _tiny(args)
    except ServeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
