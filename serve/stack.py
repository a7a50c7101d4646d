"""``make dev``: the embedded default stack on one machine, engine and gateway together.

Runs ``python -m serve run`` (vLLM on the chosen profile; ``cpu-dev`` serves the tiny
checkpoint) and, once the engine is healthy, ``python -m gateway serve`` in front of it with a
development API key, then prints how to call it.

Stopping leaves nothing behind. Both servers are child processes in their own process groups
(``serve.launcher``), stopped by process group, the gateway first, on SIGINT, SIGTERM or SIGHUP
(``serve.stopsignals``), whether the signal reaches this process alone or its whole group (a
closed terminal, a service manager). Each child gets SIGTERM if this process is killed outright
(``serve.lifeline``), and this process gets SIGTERM when its own parent dies: ``make`` passes
SIGTERM on to it, but not SIGINT or SIGHUP.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from serve.launcher import ServerProcess
from serve.lifeline import die_with_parent
from serve.profiles import get_profile
from serve.stopsignals import StopRequested, StopSignals

__all__ = ["main", "gateway_env", "keys_db", "DEV_EXTRACT_SAMPLING"]

REPO = Path(__file__).resolve().parents[1]
ENGINE_GRACE_S = 45.0
"""How long ``serve run`` may take to stop after SIGTERM: its own grace for vLLM (30 s) and
some margin, so that vLLM is never left without the parent that is stopping it."""
GATEWAY_GRACE_S = 20.0
DEV_EXTRACT_SAMPLING = {
    "GATEWAY_EXTRACT_DEFAULT_TEMPERATURE": "1.0",
    "GATEWAY_EXTRACT_DEFAULT_SEED": "7",
}
"""``cpu-dev`` only: extraction's default sampling. Greedy decoding of the tiny checkpoint's
random weights runs every string to its bound, so a newcomer's first extraction (no
temperature, no seed: the playground's defaults) would end in 422 ``output_truncated``;
sampled with this seed, ``image_insight`` finishes with a typed answer. Real profiles keep the
gateway's defaults (temperature 0, no seed)."""


def keys_db(repo: Path = REPO) -> Path:
    """The key store ``make dev``'s gateway reads (unless ``GATEWAY_KEYS_DB`` says otherwise):
    kept under ``.cache/`` with the dev key. ``python -m gateway keys`` needs the same
    ``GATEWAY_KEYS_DB`` to make keys this gateway knows (the banner and the README say so)."""
    return repo / ".cache" / "gateway-keys.db"


def gateway_env(
    profile: str, engine_url: str, base: dict[str, str], repo: Path = REPO
) -> dict[str, str]:
    """The gateway's environment under ``make dev``: ``base`` (the caller's environment, which
    wins for every ``GATEWAY_*`` it sets) plus the engine, the profile's image limit, the key
    store and, for ``cpu-dev``, the dev-only extraction sampling."""
    env = dict(base, GATEWAY_UPSTREAM_URL=engine_url)
    # vLLM does not tell clients its image limit; the gateway learns it from the profile.
    env.setdefault("GATEWAY_MAX_IMAGES_PER_REQUEST", str(get_profile(profile).limit_mm_per_prompt))
    env.setdefault("GATEWAY_KEYS_DB", str(keys_db(repo)))
    if profile == "cpu-dev":
        for name, value in DEV_EXTRACT_SAMPLING.items():
            env.setdefault(name, value)
    return env


def engine_argv(profile: str, port: int) -> list[str]:
    """The engine's command line: ``python -m serve run`` on loopback."""
    args = ["run", "--profile", profile, "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "serve", *args]


def _start(argv: list[str], name: str, env: dict[str, str] | None = None) -> ServerProcess:
    """``argv`` in its own process group, its output echoed to ours."""
    proc = ServerProcess(argv, env=env, name=name)
    proc.start()
    return proc


def _gateway_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "keys", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _dev_key(env: dict[str, str]) -> str:
    """A key named ``dev`` in the gateway's store, kept beside it so restarts reuse it.

    The store keeps only hashes, so the key itself is remembered in a 0600 file next to the
    store (``.cache/dev-api-key`` by default); it is reused only while the store still lists
    it as active.
    """
    key_file = Path(env["GATEWAY_KEYS_DB"]).with_name("dev-api-key")
    if key_file.is_file():
        key = key_file.read_text().strip()
        listed = _gateway_cli(env, "list", "--json").stdout.splitlines()
        rows = [json.loads(line) for line in listed if line.startswith("{")]
        if any(r["name"] == "dev" and r["active"] and key.startswith(r["prefix"]) for r in rows):
            return key
    _gateway_cli(env, "revoke", "dev")  # an older dev key whose secret we no longer have
    made = _gateway_cli(env, "create", "--name", "dev")
    if made.returncode != 0:
        raise RuntimeError(f"could not create a dev key: {made.stderr.strip()}")
    key = made.stdout.strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


def _banner(gateway_url: str, key: str, store: str) -> str:
    shown = os.path.relpath(store, REPO) if Path(store).is_absolute() else store
    if shown.startswith(".."):
        shown = store
    return f"""
The stack is up. The gateway is the only thing to call:

  Playground: {gateway_url}/playground   (paste the key below)

  export OPENAI_BASE_URL={gateway_url}/v1 OPENAI_API_KEY={key}
  curl -s $OPENAI_BASE_URL/models -H "Authorization: Bearer $OPENAI_API_KEY"

  python - <<'PY'
  from openai import OpenAI
  print(OpenAI().chat.completions.create(model="phi-3.5-vision", max_tokens=20,
        messages=[{{"role": "user", "content": "Hello"}}]).choices[0].message.content)
  PY

  More keys for this gateway (it reads {shown}):
  GATEWAY_KEYS_DB={shown} .venv/bin/python -m gateway keys create --name NAME --scopes chat,extract

(the cpu-dev profile serves random weights: answers are nonsense, structure is real)
Ctrl-C (or SIGTERM, or closing the terminal) stops everything.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serve.stack", description=__doc__)
    parser.add_argument("--profile", default="cpu-dev")
    parser.add_argument("--engine-port", type=int, default=8000)
    parser.add_argument("--gateway-port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1", help="where the gateway listens")
    args = parser.parse_args(argv)

    die_with_parent(os.getppid())
    procs: list[tuple[ServerProcess, float]] = []  # stopped last to first
    engine_url = f"http://127.0.0.1:{args.engine_port}"
    with StopSignals() as signals:
        try:
            engine = _start(engine_argv(args.profile, args.engine_port), "the engine")
            procs.append((engine, ENGINE_GRACE_S))
            engine.wait_until_healthy(engine_url + "/health", timeout=900)
            env = gateway_env(args.profile, engine_url, dict(os.environ))
            key = _dev_key(env)
            gateway_args = ["serve", "--host", args.host, "--port", str(args.gateway_port)]
            gateway_argv = [sys.executable, "-m", "gateway", *gateway_args]
            gateway = _start(gateway_argv, "the gateway", env)
            procs.append((gateway, GATEWAY_GRACE_S))
            gateway_url = f"http://{args.host}:{args.gateway_port}"
            gateway.wait_until_healthy(gateway_url + "/health", timeout=60)
            print(_banner(gateway_url, key, env["GATEWAY_KEYS_DB"]), flush=True)
            while engine.poll() is None and gateway.poll() is None:
                time.sleep(0.5)
            print("error: a process of the stack exited; stopping the rest", file=sys.stderr)
            return 1
        except StopRequested:
            return 0
        except RuntimeError as exc:  # EngineStartError included
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            signals.hold()
            for proc, grace in reversed(procs):
                proc.stop(grace)


if __name__ == "__main__":
    sys.exit(main())
