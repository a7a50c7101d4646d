"""``python -m serve run`` and ``make dev`` with a cheap stand-in where vLLM would be.

A real engine costs a minute and 4 GB, so tests of start-up, readiness and stopping run the
real launchers around a stand-in engine instead; everything but the vLLM leaf is the real code:

    python -m tests.support.standins engine --host H --port P ...   # the stand-in vLLM
    python -m tests.support.standins serve run --profile cpu-dev --model DIR ...
    python -m tests.support.standins stack --engine-port P --gateway-port Q

``serve`` is ``python -m serve`` with ``EngineProfile.command`` pointed at the stand-in;
``stack`` is ``python -m serve.stack`` whose engine is that ``serve run`` (on the checkpoint
folder in ``$STANDIN_MODEL``), so the tree has make dev's shape: stack, serve run, engine and
the engine's own child, and the real gateway.

The stand-in engine behaves as ``$STUB_MODE`` says: ``serve`` answers ``/health``; ``die``
prints an error and exits 3; ``hang`` never answers. Unless it dies, it starts a child (as vLLM
starts its engine core), writes "its pid, the child's pid" to ``$STUB_PIDS`` if set, and on
SIGTERM takes half a second (as vLLM drains), stops its child and exits 0.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

__all__ = ["TINY_CONFIG", "main", "write_checkpoint"]

MODULE = "tests.support.standins"
TINY_CONFIG = {
    "architectures": ["Phi3VForCausalLM"],
    "hidden_size": 192,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "num_hidden_layers": 2,
    "vocab_size": 32064,
}


def write_checkpoint(path: Path) -> Path:
    """A folder that ``serve plan`` reads like the tiny checkpoint (its config and a
    safetensors header), enough for ``serve run`` with the stand-in engine."""
    import numpy as np
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(TINY_CONFIG))
    save_file({"model.embed_tokens.weight": np.zeros((2, 2), np.float32)}, path / "w.safetensors")
    return path


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def engine(args: list[str]) -> int:
    host, port = args[args.index("--host") + 1], int(args[args.index("--port") + 1])
    mode = os.environ.get("STUB_MODE", "serve")
    print("stub: starting with", " ".join(args[:2]), flush=True)
    if mode == "die":
        print("Traceback (most recent call last):", flush=True)
        print("ValueError: the stub refuses this model", flush=True)
        return 3
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])

    def drain_and_stop(_signum: int, _frame: FrameType | None) -> None:
        time.sleep(0.5)
        child.terminate()
        child.wait()
        sys.exit(0)

    signal.signal(signal.SIGTERM, drain_and_stop)
    if pids := os.environ.get("STUB_PIDS"):
        with open(pids, "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
    if mode == "hang":
        time.sleep(300)
        return 0
    http.server.HTTPServer((host, port), _Health).serve_forever()
    return 0


def serve(args: list[str]) -> int:
    from serve.cli import main as serve_main
    from serve.profiles import EngineProfile

    def standin_command(self: EngineProfile, python: str = sys.executable) -> list[str]:
        return [python, "-m", MODULE, "engine", *self.to_vllm_args()]

    EngineProfile.command = standin_command  # type: ignore[method-assign]
    return serve_main(args)


def stack(args: list[str]) -> int:
    import serve.stack

    def standin_engine(profile: str, port: int) -> list[str]:
        serve_args = ["run", "--profile", profile, "--model", os.environ["STANDIN_MODEL"]]
        serve_args += ["--host", "127.0.0.1", "--port", str(port)]
        return [sys.executable, "-m", MODULE, "serve", *serve_args]

    serve.stack.engine_argv = standin_engine
    return serve.stack.main(args)


def main(argv: list[str]) -> int:
    commands = {"engine": engine, "serve": serve, "stack": stack}
    if not argv or argv[0] not in commands:
        print(f"usage: python -m {MODULE} {{engine,serve,stack}} ARGS...", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
