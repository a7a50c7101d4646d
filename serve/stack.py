"""``make dev``: the embedded default stack on one machine, engine and gateway together.

Runs ``python -m serve run`` (vLLM on the chosen profile; ``cpu-dev`` serves the tiny
checkpoint) and, once the engine is healthy, ``python -m gateway serve`` in front of it with a
development API key, then prints how to call it. Both are child processes in their own
process groups and are stopped by pid on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from serve.launcher import EngineProcess
from serve.profiles import get_profile

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
DEV_KEY_FILE = REPO / ".cache" / "dev-api-key"


def _start(
    args: list[str], module: str, name: str, env: dict[str, str] | None = None
) -> EngineProcess:
    """``python -m <module> <args>`` in its own process group, its output echoed to ours."""
    proc = EngineProcess([sys.executable, "-m", module, *args], env=env, name=name)
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
    """A key named ``dev`` in the gateway's store, kept in .cache so restarts reuse it.

    The store keeps only hashes, so the key itself is remembered in a 0600 file; it is
    reused only while the store still lists it as active.
    """
    if DEV_KEY_FILE.is_file():
        key = DEV_KEY_FILE.read_text().strip()
        listed = _gateway_cli(env, "list", "--json").stdout.splitlines()
        rows = [json.loads(line) for line in listed if line.startswith("{")]
        if any(r["name"] == "dev" and r["active"] and key.startswith(r["prefix"]) for r in rows):
            return key
    _gateway_cli(env, "revoke", "dev")  # an older dev key whose secret we no longer have
    made = _gateway_cli(env, "create", "--name", "dev")
    if made.returncode != 0:
        raise RuntimeError(f"could not create a dev key: {made.stderr.strip()}")
    key = made.stdout.strip()
    DEV_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEV_KEY_FILE.write_text(key + "\n")
    DEV_KEY_FILE.chmod(0o600)
    return key


def _banner(gateway_url: str, key: str) -> str:
    return f"""
The stack is up. The gateway is the only thing to call:

  export OPENAI_BASE_URL={gateway_url}/v1 OPENAI_API_KEY={key}
  curl -s $OPENAI_BASE_URL/models -H "Authorization: Bearer $OPENAI_API_KEY"

  python - <<'PY'
  from openai import OpenAI
  print(OpenAI().chat.completions.create(model="phi-3.5-vision", max_tokens=20,
        messages=[{{"role": "user", "content": "Hello"}}]).choices[0].message.content)
  PY

(the cpu-dev profile serves random weights: answers are nonsense, structure is real)
Ctrl-C stops everything.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serve.stack", description=__doc__)
    parser.add_argument("--profile", default="cpu-dev")
    parser.add_argument("--engine-port", type=int, default=8000)
    parser.add_argument("--gateway-port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1", help="where the gateway listens")
    args = parser.parse_args(argv)

    procs: list[EngineProcess] = []

    def shutdown(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    engine_url = f"http://127.0.0.1:{args.engine_port}"
    try:
        serve_args = ["run", "--profile", args.profile, "--host", "127.0.0.1"]
        engine = _start([*serve_args, "--port", str(args.engine_port)], "serve", "the engine")
        procs.append(engine)
        engine.wait_until_healthy(engine_url + "/health", timeout=900)
        env = dict(os.environ, GATEWAY_UPSTREAM_URL=engine_url)
        # vLLM does not tell clients its image limit; the gateway learns it from the profile.
        images = str(get_profile(args.profile).limit_mm_per_prompt)
        env.setdefault("GATEWAY_MAX_IMAGES_PER_REQUEST", images)
        env.setdefault("GATEWAY_KEYS_DB", str(REPO / ".cache" / "gateway-keys.db"))
        key = _dev_key(env)
        gateway_args = ["serve", "--host", args.host, "--port", str(args.gateway_port)]
        gateway = _start(gateway_args, "gateway", "the gateway", env)
        procs.append(gateway)
        gateway_url = f"http://{args.host}:{args.gateway_port}"
        gateway.wait_until_healthy(gateway_url + "/health", timeout=60)
        print(_banner(gateway_url, key), flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("error: a process of the stack exited; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:  # EngineStartError included
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for proc in reversed(procs):
            proc.stop(grace=20)


if __name__ == "__main__":
    sys.exit(main())
