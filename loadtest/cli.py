"""``python -m loadtest run|report|corpus``: the command line (``make loadtest`` calls it).

    python -m loadtest run --host http://127.0.0.1:8080 --users 8 --duration 60s
    python -m loadtest run --shape step --users 32 --step-users 4 --step-duration 60s
    python -m loadtest run --shape open --rate 5 --duration 2m --slo-ttft-ms 1500
    python -m loadtest report loadtest/results/20260101-120000     # rebuild the report
    python -m loadtest corpus --out /tmp/corpus                      # look at the images

Errors the user can fix (no stack, bad key, bad option) print one line and exit with 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from loadtest.config import KINDS, RunConfig, parse_duration, parse_mix

__all__ = ["build_parser", "config_from_args", "main"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _duration(text: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _mix(text: str) -> dict[str, float]:
    try:
        return parse_mix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = RunConfig()
    p = sub.add_parser(
        "run",
        help="run Locust headless against the stack and write a report",
        description="Run a load test and write Locust's files plus our report.",
    )
    g = p.add_argument_group("target")
    g.add_argument("--host", default=d.host, help="gateway URL (default %(default)s)")
    g.add_argument("--api-key", help="default: $OPENAI_API_KEY, else make dev's key")
    g.add_argument("--model", help="default: the first model of GET /v1/models")
    g.add_argument(
        "--engine-metrics-url",
        action="append",
        default=[],
        metavar="URL",
        help="vLLM's /metrics, e.g. http://127.0.0.1:8000/metrics (repeatable)",
    )
    g.add_argument("--engine-profile", help="the serve profile the engine runs, for the report")
    g.add_argument("--label", default="", help="free text for the report title")
    g = p.add_argument_group("load")
    g.add_argument("--shape", choices=("fixed", "step", "open"), default=d.shape)
    g.add_argument("--users", type=_positive_int, default=d.users)
    g.add_argument(
        "--spawn-rate",
        type=_positive_float,
        default=None,
        help="users started per second (default: all within ~1 s)",
    )
    g.add_argument(
        "--duration",
        type=_duration,
        default=d.duration_s,
        help="fixed/open: whole run incl. ramp-up, e.g. 90s, 5m (default 60s)",
    )
    g.add_argument(
        "--step-users",
        type=_positive_int,
        default=None,
        help="step: users added per step (default users/4)",
    )
    g.add_argument("--step-duration", type=_duration, default=d.step_duration_s)
    g.add_argument("--rate", type=_positive_float, default=d.rate, help="open: arrivals per second")
    g.add_argument("--arrival", choices=("constant", "poisson"), default=d.arrival)
    g.add_argument("--max-inflight", type=_positive_int, default=d.max_inflight)
    g.add_argument("--think-time", type=float, default=d.think_time_s, help="seconds")
    g.add_argument(
        "--failure-backoff",
        type=float,
        default=d.failure_backoff_s,
        help="closed loop: seconds a user waits after a failed request",
    )
    g.add_argument(
        "--processes",
        type=_positive_int,
        default=d.processes,
        help="Locust processes (one per free core when one is not enough)",
    )
    g = p.add_argument_group("requests")
    g.add_argument(
        "--mix",
        type=_mix,
        default=dict(d.mix),
        help=f"weights of {', '.join(KINDS)}, e.g. stream=3,extract=1",
    )
    g.add_argument(
        "--schemas",
        default="",
        help="extract schemas, comma-separated, or 'all' (default: a scene set)",
    )
    g.add_argument("--num-crops", type=_positive_int, help="per request (1-16)")
    g.add_argument("--max-tokens", type=_positive_int, default=d.max_tokens)
    g.add_argument("--extract-max-tokens", type=_positive_int)
    g.add_argument(
        "--extract-temperature",
        type=float,
        default=d.extract_temperature,
        help="extraction sampling temperature (default 0, as the API; use 1 on random weights)",
    )
    g.add_argument(
        "--ignore-eos",
        action="store_true",
        help="fixed output length (vLLM ignore_eos), as serving benchmarks use",
    )
    g.add_argument("--repeat-prompts", type=_positive_int, default=d.repeat_prompts)
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--corpus-size", type=_positive_int, default=d.corpus_size)
    g.add_argument("--image-scale", type=_positive_float, default=d.image_scale)
    g.add_argument(
        "--timeout", type=_positive_float, default=d.request_timeout_s, help="seconds per request"
    )
    g = p.add_argument_group("report")
    g.add_argument("--slo-ttft-ms", type=_positive_float, default=d.slo_ttft_ms)
    g.add_argument("--slo-itl-ms", type=_positive_float, default=d.slo_itl_ms)
    g.add_argument("--slo-e2e-ms", type=_positive_float)
    g.add_argument("--metrics-interval", type=_positive_float, default=d.metrics_interval_s)
    g.add_argument("--out", type=Path, help="output folder (default loadtest/results/<timestamp>)")
    g.add_argument("--quiet", action="store_true", help="do not echo Locust's output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    rep = sub.add_parser("report", help="rebuild summary.json and the report from a folder")
    rep.add_argument("out", type=Path)
    cor = sub.add_parser("corpus", help="write the synthetic images to a folder")
    cor.add_argument("--out", type=Path, required=True)
    cor.add_argument("--seed", type=int, default=0)
    cor.add_argument("--size", type=_positive_int, default=24)
    cor.add_argument("--image-scale", type=_positive_float, default=1.0)
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The `RunConfig` the options describe (model and schemas are resolved later)."""
    users = args.users
    return RunConfig(
        host=args.host.rstrip("/"),
        mix=args.mix,
        shape=args.shape,
        users=users,
        spawn_rate=args.spawn_rate or float(max(users, 1)),
        duration_s=args.duration,
        step_users=args.step_users or max(1, users // 4),
        step_duration_s=args.step_duration,
        rate=args.rate,
        arrival=args.arrival,
        max_inflight=args.max_inflight,
        num_crops=args.num_crops,
        max_tokens=args.max_tokens,
        extract_max_tokens=args.extract_max_tokens,
        extract_temperature=args.extract_temperature,
        ignore_eos=args.ignore_eos,
        repeat_prompts=args.repeat_prompts,
        think_time_s=args.think_time,
        failure_backoff_s=args.failure_backoff,
        seed=args.seed,
        corpus_size=args.corpus_size,
        image_scale=args.image_scale,
        request_timeout_s=args.timeout,
        slo_ttft_ms=args.slo_ttft_ms,
        slo_itl_ms=args.slo_itl_ms,
        slo_e2e_ms=args.slo_e2e_ms,
        engine_metrics_urls=list(args.engine_metrics_url),
        metrics_interval_s=args.metrics_interval,
        engine_profile=args.engine_profile,
        processes=args.processes,
        label=args.label,
    )


def _write_corpus(args: argparse.Namespace) -> int:
    from loadtest.corpus import build_corpus

    args.out.mkdir(parents=True, exist_ok=True)
    for image in build_corpus(args.seed, args.size, args.image_scale):
        ext = "jpg" if image.mime == "image/jpeg" else "png"
        (args.out / f"{image.name}.{ext}").write_bytes(image.data)
        print(f"{image.name}.{ext}  {image.width}x{image.height}  {len(image.data)} bytes")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "corpus":
        return _write_corpus(args)
    from loadtest.runner import rebuild_report, run

    if args.command == "report":
        return rebuild_report(args.out)
    return run(
        config_from_args(args),
        api_key=args.api_key,
        model=args.model,
        schemas=args.schemas,
        out=args.out,
        quiet=args.quiet,
    )


if __name__ == "__main__":
    sys.exit(main())
