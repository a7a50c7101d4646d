"""One load-test run end to end: check the stack, run Locust headless, write the report.

check_stack → config.json → EngineSampler (vLLM /metrics) → Locust child process
  → samples-*.json → summary.json → plots → report.md / report.html
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from loadtest.config import DEFAULT_SCHEMAS, RunConfig
from loadtest.enginemetrics import EngineSampler, Snapshot
from loadtest.locustproc import GRACE_S, expected_s, locust_command, run_locust
from loadtest.preflight import (
    StackInfo,
    StackNotReady,
    check_stack,
    collect_versions,
    resolve_api_key,
)

__all__ = ["REPO", "choose_schemas", "default_out", "finish", "rebuild_report", "run"]

REPO = Path(__file__).resolve().parents[1]


def default_out() -> Path:
    return REPO / "loadtest" / "results" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def choose_schemas(requested: str, info: StackInfo) -> list[str]:
    """``all``, an explicit list (checked against the gateway's), or the scene defaults."""
    if requested == "all":
        return list(info.schemas)
    if requested:
        names = [n.strip() for n in requested.split(",") if n.strip()]
        unknown = [n for n in names if n not in info.schemas]
        if unknown:
            raise StackNotReady(
                f"unknown schema(s) {', '.join(unknown)}; the gateway has {', '.join(info.schemas)}"
            )
        return names
    defaults = [n for n in DEFAULT_SCHEMAS if n in info.schemas]
    return defaults or list(info.schemas)


def _profile_details(name: str | None) -> dict[str, Any] | None:
    """Key settings of a ``serve`` profile, when this checkout has it."""
    if not name:
        return None
    try:
        from serve.profiles import get_profile

        p = get_profile(name)
    except Exception:  # noqa: BLE001 - a remote profile name is still worth printing
        return None
    keys = (
        "device",
        "dtype",
        "quantization",
        "kv_cache_dtype",
        "max_model_len",
        "max_num_seqs",
        "max_num_batched_tokens",
        "num_crops",
        "enable_prefix_caching",
    )
    return {k: getattr(p, k) for k in keys}


def finish(
    out: Path,
    cfg: RunConfig,
    snapshots: list[Snapshot],
    versions: dict[str, Any],
    notes: list[str],
    exit_code: int | None,
) -> dict[str, Any]:
    """Samples → ``summary.json`` → plots → ``report.md``/``report.html``."""
    from loadtest.plots import plot_steps, plot_timeline
    from loadtest.report import write_report
    from loadtest.samples import load_samples
    from loadtest.summary import summarize

    samples, metas = load_samples(out)
    summary = summarize(cfg, samples, metas, snapshots, versions, notes, exit_code)
    summary["engine_profile_details"] = _profile_details(cfg.engine_profile)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    figures = [f for f in [plot_timeline(samples, summary, out)] if f]
    if summary.get("steps"):
        figures += plot_steps(summary["steps"], out)
    write_report(summary, out, figures)
    return summary


def _print_result(summary: dict[str, Any], out: Path) -> None:
    from loadtest.report import fmt_ms

    o, g = summary["overall"], summary["goodput"]
    rps = o["requests_per_s"] or 0.0
    tps = o["output_tokens_per_s"] or 0.0
    print(
        f"\nloadtest: {o['ok']} ok, {o['failed']} failed; {rps:.2f} req/s, "
        f"{tps:.1f} output tok/s; TTFT p50 {fmt_ms(o['ttft_ms']['p50'])}, "
        f"p99 {fmt_ms(o['ttft_ms']['p99'])}; goodput {(g['share'] or 0):.0%}"
    )
    for warning in summary["warnings"]:
        print(f"loadtest: warning: {warning}")
    print(f"loadtest: report {out / 'report.html'} (and report.md, summary.json)")


def run(
    cfg: RunConfig,
    api_key: str | None = None,
    model: str | None = None,
    schemas: str = "",
    out: Path | None = None,
    quiet: bool = False,
) -> int:
    """Check the stack, run Locust, write everything to ``out``; Locust's exit code."""
    key, key_source = resolve_api_key(api_key)
    try:
        extract = "extract" in cfg.weights()
        info = check_stack(cfg.host, key, model, schemas=extract)
        cfg.schemas = choose_schemas(schemas, info) if extract else []
    except StackNotReady as exc:
        print(f"loadtest: error: {exc}", file=sys.stderr)
        return 2
    cfg.model = info.model
    out = (out or default_out()).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cfg.out_dir = str(out)
    config_path = out / "config.json"
    cfg.save(config_path)
    versions = collect_versions(cfg.engine_metrics_urls)
    print(
        f"loadtest: {cfg.shape} load on {cfg.host} ({cfg.model}, key from {key_source}); "
        f"~{expected_s(cfg):.0f} s; writing {out}",
        flush=True,
    )
    sampler = EngineSampler(cfg.engine_metrics_urls, cfg.metrics_interval_s)
    sampler.start()
    env = {
        **os.environ,
        "OPENAI_API_KEY": key,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    t0 = time.time()
    try:
        code = run_locust(
            locust_command(cfg, config_path, out),
            env,
            out / "locust.log",
            quiet,
            expected_s(cfg) + GRACE_S,
        )
    finally:
        sampler.stop()
        (out / "engine_metrics.json").write_text(
            json.dumps([asdict(s) for s in sampler.snapshots]) + "\n"
        )
    if not list(out.glob("samples-*.json")):
        print(
            f"loadtest: error: Locust wrote no samples (exit code {code} after "
            f"{time.time() - t0:.0f} s); see {out / 'locust.log'}",
            file=sys.stderr,
        )
        return code or 1
    summary = finish(out, cfg, sampler.snapshots, versions, [], code)
    _print_result(summary, out)
    return code


def rebuild_report(out: Path) -> int:
    """Redo summary, plots and report from the files of an earlier run."""
    if not (out / "config.json").is_file():
        print(
            f"loadtest: error: {out} has no config.json; is it a load-test output folder?",
            file=sys.stderr,
        )
        return 2
    cfg = RunConfig.load(out / "config.json")
    snaps_path = out / "engine_metrics.json"
    snapshots = (
        [Snapshot(**s) for s in json.loads(snaps_path.read_text())] if snaps_path.is_file() else []
    )
    old = out / "summary.json"
    previous = json.loads(old.read_text()) if old.is_file() else {}
    summary = finish(
        out,
        cfg,
        snapshots,
        previous.get("versions", {}),
        previous.get("notes", []),
        previous.get("locust_exit_code"),
    )
    _print_result(summary, out)
    return 0
