"""docker/compose.yaml against the Compose Specification's JSON schema (the copy that
check-jsonschema ships, so no network and no Docker engine), then the properties the stack
relies on: vLLM private and GPU-backed, the gateway published with its key store on a volume,
and `make up` / `make down` driving the right profiles."""

from __future__ import annotations

import json
import re
import subprocess
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from gateway.settings import Settings
from serve.profiles import get_profile
from tests.unit.docker.files import DOCKER, REPO, Dockerfile, interpolate, load_yaml_docs

COMPOSE = DOCKER / "compose.yaml"
ENGINES = ("vllm", "vllm-cpu")


def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "compose-spec.json").read_text())
    assert isinstance(schema, dict)
    return schema


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    (doc,) = load_yaml_docs(COMPOSE)
    return doc


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    """The file as Compose sees it with no variables set (every default applies)."""
    result = interpolate(raw, {})
    assert isinstance(result, dict)
    return result


def validate(doc: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


# --- schema ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [{}, {"VLLM_PROFILE": "l4-24g", "GATEWAY_PORT": "9000", "HF_TOKEN_FILE": "/run/hf"}],
    ids=["defaults", "overridden"],
)
def test_compose_file_matches_the_compose_spec(raw: dict[str, Any], env: dict[str, str]) -> None:
    assert validate(raw) == []
    assert validate(interpolate(raw, env)) == []


def test_schema_check_rejects_a_broken_file(raw: dict[str, Any]) -> None:
    """The validator is strict enough to matter: a misspelt key fails."""
    broken = json.loads(json.dumps(raw))
    broken["services"]["vllm"]["healthcheck"]["start_periode"] = "600s"
    broken["services"]["gateway"]["depends_on"]["vllm"]["condition"] = "healthy"
    errors = validate(broken)
    assert any("start_periode" in e for e in errors)
    assert any("healthy" in e for e in errors)


# --- vLLM: private, GPU, profile --------------------------------------------------------------


def test_vllm_publishes_no_port_and_sits_only_on_internal_networks(
    compose: dict[str, Any],
) -> None:
    networks = compose["networks"]
    for name in ENGINES:
        service = compose["services"][name]
        assert "ports" not in service and "expose" not in service, name
        assert service.get("network_mode") is None
        attached = service["networks"]
        assert attached, name
        for net in attached:
            assert networks[net].get("internal") is True, f"{name} on non-internal {net}"


def test_gpu_service_reserves_an_nvidia_gpu(compose: dict[str, Any]) -> None:
    devices = compose["services"]["vllm"]["deploy"]["resources"]["reservations"]["devices"]
    (device,) = devices
    assert device["driver"] == "nvidia"
    assert "gpu" in device["capabilities"]
    assert int(device["count"]) >= 1
    assert "deploy" not in compose["services"]["vllm-cpu"]


def test_gpu_profile_comes_from_the_environment(raw: dict[str, Any]) -> None:
    env = raw["services"]["vllm"]["environment"]
    assert env["VLLM_PROFILE"] == "${VLLM_PROFILE:-h100-80g}"
    assert interpolate(env, {"VLLM_PROFILE": "l4-24g"})["VLLM_PROFILE"] == "l4-24g"
    assert get_profile(interpolate(env, {})["VLLM_PROFILE"]).device == "cuda"


def test_services_build_the_dockerfiles_in_this_folder(compose: dict[str, Any]) -> None:
    expected = {
        "vllm": "docker/vllm.Dockerfile",
        "vllm-cpu": "docker/vllm-cpu.Dockerfile",
        "gateway": "docker/gateway.Dockerfile",
    }
    for name, dockerfile in expected.items():
        service = compose["services"][name]
        build = service["build"]
        assert (COMPOSE.parent / build["context"]).resolve() == REPO
        assert build["dockerfile"] == dockerfile and (REPO / dockerfile).is_file()
        image = service["image"]
        assert not image.endswith(":latest") and ":" in image, image


def test_hf_token_reaches_only_the_gpu_build_and_only_as_a_file_secret(
    compose: dict[str, Any],
) -> None:
    assert compose["services"]["vllm"]["build"]["secrets"] == ["hf_token"]
    for name in ("vllm-cpu", "gateway"):
        assert "secrets" not in compose["services"][name]["build"]
        assert "secrets" not in compose["services"][name]
    assert "secrets" not in compose["services"]["vllm"], "not mounted into the container"
    secret = compose["secrets"]["hf_token"]
    assert set(secret) == {"file"}, "env-sourced build secrets vary across Compose versions"
    for service in compose["services"].values():
        args = service.get("build", {}).get("args", {})
        assert not any("TOKEN" in str(key).upper() for key in args), "never a build arg"


def test_engine_healthchecks_allow_for_model_load(compose: dict[str, Any]) -> None:
    def seconds(text: str) -> int:
        m = re.fullmatch(r"(\d+)(s|m)", text)
        assert m, text
        return int(m.group(1)) * (60 if m.group(2) == "m" else 1)

    assert seconds(compose["services"]["vllm"]["healthcheck"]["start_period"]) >= 600
    assert seconds(compose["services"]["vllm-cpu"]["healthcheck"]["start_period"]) >= 120
    for name in (*ENGINES, "gateway"):
        test = compose["services"][name]["healthcheck"]["test"]
        assert test[0] == "CMD" and "/health" in " ".join(test), name


def test_profiles_select_exactly_one_engine(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["vllm"]["profiles"] == ["gpu"]
    assert services["vllm-cpu"]["profiles"] == ["cpu"]
    assert sorted(services["gateway"]["profiles"]) == ["cpu", "gpu"]


# --- gateway ------------------------------------------------------------------------------------


def test_gateway_waits_for_a_healthy_engine(compose: dict[str, Any]) -> None:
    depends = compose["services"]["gateway"]["depends_on"]
    for name in ENGINES:
        assert depends[name]["condition"] == "service_healthy"
        # Only one engine exists per profile; the other must not block the gateway.
        assert depends[name]["required"] is False


def test_gateway_is_published_and_reaches_vllm_by_name(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["gateway"]
    assert gateway["ports"] == ["8080:8080"]
    assert interpolate(
        load_yaml_docs(COMPOSE)[0]["services"]["gateway"]["ports"], {"GATEWAY_PORT": "9000"}
    ) == ["9000:8080"]
    env = gateway["environment"]
    url = urlsplit(env["GATEWAY_UPSTREAM_URL"])
    assert (url.scheme, url.hostname, url.port) == ("http", "vllm", 8000)
    assert "backend" in gateway["networks"]
    cpu_aliases = compose["services"]["vllm-cpu"]["networks"]["backend"]["aliases"]
    assert "vllm" in cpu_aliases, "the CPU engine answers to the same name"
    exposed = Dockerfile.read(DOCKER / "gateway.Dockerfile").final.last("EXPOSE")
    assert exposed is not None and exposed.args == "8080" == env["GATEWAY_PORT"]


def test_gateways_share_keys_in_postgres_and_limits_in_valkey(compose: dict[str, Any]) -> None:
    services, networks = compose["services"], compose["networks"]
    for name in ("gateway", "gateway-2"):
        env = services[name]["environment"]
        keys, limits = urlsplit(env["GATEWAY_KEYS_DB"]), urlsplit(env["GATEWAY_REDIS_URL"])
        assert (keys.scheme, keys.hostname, keys.port) == ("postgresql", "postgres", 5432)
        assert (limits.scheme, limits.hostname, limits.port) == ("redis", "valkey", 6379)
        assert keys.password == services["postgres"]["environment"]["POSTGRES_PASSWORD"]
        for store in ("postgres", "valkey"):
            assert services[name]["depends_on"][store]["condition"] == "service_healthy"
    assert services["gateway-2"]["ports"] == ["8081:8080"]
    assert services["gateway-2"]["profiles"] == ["replicas"]
    for store in ("postgres", "valkey"):
        service = services[store]
        assert sorted(service["profiles"]) == ["cpu", "gpu"]
        assert "ports" not in service, "the stores are never published"
        assert all(networks[net].get("internal") is True for net in service["networks"])
        name, _, tag = service["image"].partition(":")
        # PostgreSQL's major.minor is already a patch release
        assert name in ("postgres", "valkey/valkey") and re.match(r"\d+\.\d+", tag), tag
        (mount,) = service["volumes"]
        assert mount.split(":", 1)[0] in compose["volumes"], "a named volume, not a bind mount"
        assert service["healthcheck"]["test"][0] == "CMD"


def test_gateway_environment_names_real_settings(compose: dict[str, Any]) -> None:
    fields = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields}
    names = set(compose["services"]["gateway"]["environment"])
    assert names <= fields, f"unknown settings: {sorted(names - fields)}"


def test_default_image_limit_is_safe_for_every_compose_engine(compose: dict[str, Any]) -> None:
    limit = int(compose["services"]["gateway"]["environment"]["GATEWAY_MAX_IMAGES_PER_REQUEST"])
    for profile in ("h100-80g", "a100-80g", "l4-24g", "cpu-dev"):
        assert limit <= get_profile(profile).limit_mm_per_prompt, profile


# --- make up / make down --------------------------------------------------------------------------


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--silent", "--no-print-directory", "-f", "mk/docker.mk", *args],
        cwd=REPO, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("stack", ["gpu", "cpu"])
def test_make_up_starts_the_chosen_profile_and_waits_for_health(stack: str) -> None:
    result = make("up", f"STACK={stack}", "COMPOSE=echo compose")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0].split()
    assert first[:3] == ["compose", "-f", "docker/compose.yaml"]
    assert first[3:5] == ["--profile", stack]
    assert {"up", "--build", "--detach", "--wait"} <= set(first)


def test_make_up_replicas_adds_the_second_gateway() -> None:
    result = make("up", "STACK=cpu", "REPLICAS=2", "COMPOSE=echo compose")
    assert result.returncode == 0, result.stderr
    words = result.stdout.splitlines()[0].split()
    assert words[3:7] == ["--profile", "cpu", "--profile", "replicas"]
    assert make("up", "REPLICAS=3", "COMPOSE=echo compose").returncode != 0


def test_make_up_refuses_an_unknown_stack() -> None:
    result = make("up", "STACK=tpu", "COMPOSE=echo compose")
    assert result.returncode != 0
    assert "STACK must be gpu or cpu" in result.stderr


def test_make_down_stops_both_variants_and_keeps_the_keys() -> None:
    result = make("down", "COMPOSE=echo compose")
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words.count("--profile") == 3 and {"gpu", "cpu", "replicas"} <= set(words)
    assert "down" in words and "--volumes" not in words and "-v" not in words
