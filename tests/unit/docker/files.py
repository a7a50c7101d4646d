"""Readers for what docker/ holds: Dockerfiles, .dockerignore lists, YAML, env interpolation.

Just enough of each format for the static checks in this folder; nothing here runs Docker.

>>> df = Dockerfile.read(DOCKER / "gateway.Dockerfile")
>>> df.final.user, df.resolve(df.stages[0].base)
('10001:10001', 'python:3.11.14-slim-bookworm')
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DOCKER",
    "DOCKERFILES",
    "K8S",
    "REPO",
    "Dockerfile",
    "Instruction",
    "Stage",
    "ignored",
    "interpolate",
    "load_yaml_docs",
    "read_ignore_file",
]

REPO = Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"
K8S = DOCKER / "k8s"
DOCKERFILES = ("vllm.Dockerfile", "gateway.Dockerfile", "vllm-cpu.Dockerfile")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    args: str
    line: int
    comments: tuple[str, ...] = ()
    """The comment lines directly above it (without ``#``), nearest last."""

    def exec_form(self) -> list[str] | None:
        """The JSON-array form of ENTRYPOINT/CMD/HEALTHCHECK CMD, or None for shell form."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            text = text.split(" CMD ", 1)[1] if " CMD " in text else ""
        text = text.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list)
        return [str(v) for v in value]

    def flags(self) -> dict[str, str]:
        """``--name=value`` options at the start of the arguments (RUN, COPY, HEALTHCHECK)."""
        found: dict[str, str] = {}
        for token in shlex.split(self.args, posix=True):
            if not token.startswith("--"):
                break
            name, _, value = token[2:].partition("=")
            found.setdefault(name, value)
        return found

    def mounts(self) -> list[dict[str, str]]:
        """Every ``--mount=k=v,…`` of a RUN as a dict."""
        result = []
        for token in shlex.split(self.args, posix=True):
            if token.startswith("--mount="):
                result.append(dict(
                    part.partition("=")[::2] for part in token[len("--mount="):].split(",")
                ))  # fmt: skip
        return result


@dataclass
class Stage:
    """Instructions from one FROM to the next."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    @property
    def user(self) -> str | None:
        user = self.last("USER")
        return user.args.strip() if user else None

    def env(self) -> dict[str, str]:
        """ENV settings of this stage (``KEY=value`` form only)."""
        values: dict[str, str] = {}
        for inst in self.all("ENV"):
            for token in shlex.split(inst.args, posix=True):
                key, sep, value = token.partition("=")
                assert sep, f"line {inst.line}: use ENV KEY=value"
                values[key] = value
        return values


@dataclass
class Dockerfile:
    path: Path
    global_args: dict[str, str]
    stages: list[Stage]
    instructions: list[Instruction]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def resolve(self, text: str) -> str:
        """Substitute global ARG defaults into ``text`` (``${NAME}`` and ``$NAME``)."""
        return re.sub(
            r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
            lambda m: self.global_args.get(m.group(1), m.group(0)),
            text,
        )

    @classmethod
    def read(cls, path: Path) -> Dockerfile:
        instructions = _instructions(path.read_text())
        global_args: dict[str, str] = {}
        stages: list[Stage] = []
        for inst in instructions:
            if inst.keyword == "FROM":
                words = inst.args.split()
                name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
                stages.append(Stage(base=words[0], name=name))
            elif not stages:
                if inst.keyword == "ARG":
                    key, _, value = inst.args.partition("=")
                    global_args[key.strip()] = value.strip()
            else:
                stages[-1].instructions.append(inst)
        return cls(path=path, global_args=global_args, stages=stages, instructions=instructions)


def _instructions(text: str) -> list[Instruction]:
    """Join continuation lines; keep the comment block above each instruction."""
    result: list[Instruction] = []
    comments: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped:
            comments = []
            i += 1
            continue
        if stripped.startswith("#"):
            comments.append(stripped[1:].strip())
            i += 1
            continue
        start = i
        parts = [stripped]
        while parts[-1].endswith("\\") and i + 1 < len(lines):
            parts[-1] = parts[-1][:-1]
            i += 1
            nxt = lines[i].strip()
            if nxt.startswith("#"):  # comment lines inside a continuation are dropped
                parts.append("")
                continue
            parts.append(nxt)
        joined = " ".join(p.strip() for p in parts if p.strip())
        keyword, _, args = joined.partition(" ")
        result.append(Instruction(keyword.upper(), args.strip(), start + 1, tuple(comments)))
        comments = []
        i += 1
    return result


def read_ignore_file(path: Path) -> list[str]:
    """Patterns of a .dockerignore file, in order."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _match(pattern: str, path: str) -> bool:
    """Docker's pattern match on one path (``**`` spans folders, ``*`` does not)."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, path) is not None or fnmatch.fnmatchcase(path, pattern)


def ignored(patterns: list[str], path: str) -> bool:
    """Whether Docker leaves ``path`` (relative to the context) out: the last pattern that
    matches the path or one of its parent folders decides, ``!`` re-includes."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.strip("/")
        if any(_match(pattern, c) for c in candidates):
            excluded = not negate
    return excluded


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of a file."""
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$\$")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution over a loaded YAML tree: ``${X}``, ``${X:-default}``,
    ``${X-default}``, ``${X:?error}``, ``$$``."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        current = env.get(name)
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if current is not None else arg
        if op in (":?", "?"):
            if not current:
                raise KeyError(f"{name}: {arg}")
            return current
        return current or ""

    return _VAR.sub(sub, value)
