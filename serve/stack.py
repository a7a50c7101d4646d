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

import httpx

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
DEV_KEY_FILE = REPO / ".cache" / "dev-api-key"


def _spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


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

    procs: list[subprocess.Popen[bytes]] = []

    def shutdown(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    engine_url = f"http://127.0.0.1:{args.engine_port}"
    try:
        engine = _spawn(
            [
                "-m",
                "serve",
                "run",
                "--profile",
                args.profile,
                "--host",
                "127.0.0.1",
                "--port",
                str(args.engine_port),
            ]
        )
        procs.append(engine)
        if not _wait_healthy(engine_url + "/health", engine, timeout=900):
            print(
                "error: the engine did not become healthy (see its output above)", file=sys.stderr
            )
            return 1
        env = dict(os.environ, GATEWAY_UPSTREAM_URL=engine_url)
        env.setdefault("GATEWAY_KEYS_DB", str(REPO / ".cache" / "gateway-keys.db"))
        key = _dev_key(env)
        gateway = _spawn(
            ["-m", "gateway", "serve", "--host", args.host, "--port", str(args.gateway_port)],
            env=env,
        )
        procs.append(gateway)
        gateway_url = f"http://{args.host}:{args.gateway_port}"
        if not _wait_healthy(gateway_url + "/health", gateway, timeout=60):
            print("error: the gateway did not start (see its output above)", file=sys.stderr)
            return 1
        print(_banner(gateway_url, key), flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("error: a process of the stack exited; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for proc in reversed(procs):
            _stop(proc)


if __name__ == "__main__":
    sys.exit(main())
