"""docker/k8s/: every manifest against the Kubernetes OpenAPI schemas (kubernetes-validate,
offline, strict: unknown fields fail), then how the pieces fit: selectors, references, probes,
GPU requests, the NetworkPolicy, security contexts, and settings that must agree with the
engine profiles and the gateway's Settings."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from gateway.settings import Settings
from serve.profiles import get_profile
from tests.unit.docker.files import DOCKER, K8S, Dockerfile, load_yaml_docs

# The oldest Kubernetes still commonly run, and the newest kubernetes-validate knows.
VERSIONS = ("1.31", "1.37")
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def documents() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in MANIFESTS for doc in load_yaml_docs(path)]


def doc_id(item: tuple[Path, dict[str, Any]]) -> str:
    path, doc = item
    return f"{path.name}:{doc['kind']}/{doc['metadata']['name']}"


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], dict[str, Any]]:
    """Every object in docker/k8s (the example Secret included), by (kind, name)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for _, doc in documents():
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in found, f"{key} defined twice"
        found[key] = doc
    return found


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def container(obj: dict[str, Any]) -> dict[str, Any]:
    (main,) = pod_spec(obj)["containers"]
    assert isinstance(main, dict)
    return main


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# --- schemas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("item", documents(), ids=doc_id)
def test_manifest_validates_strictly(item: tuple[Path, dict[str, Any]], version: str) -> None:
    _, doc = item
    assert kubernetes_validate.validate(doc, version, strict=True) == version


def test_validation_rejects_unknown_fields_and_api_versions(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    typo = copy.deepcopy(objects["StatefulSet", "vllm"])
    typo["spec"]["template"]["spec"]["containers"][0]["startupProbe"]["failureTreshold"] = 60
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, "1.31", strict=True)
    wrong_api = copy.deepcopy(objects["HorizontalPodAutoscaler", "gateway"])
    wrong_api["apiVersion"] = "autoscaling/v3"
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(wrong_api, "1.31", strict=True)


def test_kustomization_deploys_every_manifest_but_the_example_secret() -> None:
    (kustomization,) = load_yaml_docs(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    assert all((K8S / name).is_file() for name in listed)
    assert listed == {p.name for p in MANIFESTS} - {"secret.example.yaml"}
    (namespace,) = load_yaml_docs(K8S / "namespace.yaml")
    assert kustomization["namespace"] == namespace["metadata"]["name"]


def test_images_are_pinned_and_never_default_to_docker_hub(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    (kustomization,) = load_yaml_docs(K8S / "kustomization.yaml")
    overrides = {entry["name"]: entry for entry in kustomization["images"]}
    for obj in objects.values():
        if obj["kind"] not in ("StatefulSet", "Deployment"):
            continue
        name, _, tag = container(obj)["image"].rpartition(":")
        assert tag and tag != "latest", obj["metadata"]["name"]
        override = overrides[name]
        assert override["newTag"] != "latest"
        assert "." in override["newName"].split("/")[0], "a registry host, not Docker Hub"


# --- how the pieces fit ---------------------------------------------------------------------------


def test_selectors_match_the_pods_they_are_meant_for(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    vllm, gateway = objects["StatefulSet", "vllm"], objects["Deployment", "gateway"]
    for obj in (vllm, gateway):
        labels = obj["spec"]["template"]["metadata"]["labels"]
        assert selects(obj["spec"]["selector"]["matchLabels"], labels)
    vllm_labels = vllm["spec"]["template"]["metadata"]["labels"]
    gateway_labels = gateway["spec"]["template"]["metadata"]["labels"]
    for name in ("vllm", "vllm-lb"):
        assert selects(objects["Service", name]["spec"]["selector"], vllm_labels)
        assert not selects(objects["Service", name]["spec"]["selector"], gateway_labels)
    assert selects(objects["Service", "gateway"]["spec"]["selector"], gateway_labels)
    pdb = objects["PodDisruptionBudget", "vllm"]
    assert selects(pdb["spec"]["selector"]["matchLabels"], vllm_labels)
    gateway_pdb = objects["PodDisruptionBudget", "gateway"]
    assert selects(gateway_pdb["spec"]["selector"]["matchLabels"], gateway_labels)


def test_statefulset_has_a_headless_service_for_per_replica_names(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    vllm = objects["StatefulSet", "vllm"]
    headless = objects["Service", vllm["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    assert vllm["spec"]["replicas"] >= 2
    assert vllm["spec"]["podManagementPolicy"] == "Parallel"


def test_service_ports_point_at_named_container_ports(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    workloads = [objects["StatefulSet", "vllm"], objects["Deployment", "gateway"]]
    for (kind, name), service in objects.items():
        if kind != "Service":
            continue
        (workload,) = [w for w in workloads if selects(
            service["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])]  # fmt: skip
        named = {p["name"]: p["containerPort"] for p in container(workload)["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in named, f"{name}: {port['targetPort']}"


def test_config_and_secret_references_exist(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    (example_secret,) = load_yaml_docs(K8S / "secret.example.yaml")
    for kind in ("StatefulSet", "Deployment"):
        for obj in (o for (k, _), o in objects.items() if k == kind):
            main = container(obj)
            for source in main.get("envFrom", []):
                assert ("ConfigMap", source["configMapRef"]["name"]) in objects
            for var in main.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == example_secret["metadata"]["name"]
                    assert ref["key"] in example_secret["stringData"]
                    # vLLM's key is optional; the gateway's stores are not (no default works)
                    required = ref["key"] in ("keys-db-url", "redis-url")
                    assert ref.get("optional", False) is not required, ref["key"]
            for volume in pod_spec(obj).get("volumes", []):
                claim = volume.get("persistentVolumeClaim")
                if claim:
                    assert ("PersistentVolumeClaim", claim["claimName"]) in objects


def test_example_secret_holds_no_real_value() -> None:
    (secret,) = load_yaml_docs(K8S / "secret.example.yaml")
    assert "data" not in secret
    for value in secret["stringData"].values():
        assert value.startswith("REPLACE"), "only placeholders belong in git"


def test_hpa_scales_the_gateway_deployment(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    hpa = objects["HorizontalPodAutoscaler", "gateway"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) in objects
    assert hpa["spec"]["minReplicas"] >= 1
    cpu = container(objects[target["kind"], target["name"]])["resources"]["requests"]["cpu"]
    assert cpu, "utilization targets need a CPU request"


# --- vLLM: GPUs and probes ------------------------------------------------------------------------


def test_each_vllm_replica_gets_one_gpu(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    resources = container(objects["StatefulSet", "vllm"])["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == 1
    assert resources["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in str(container(objects["Deployment", "gateway"]))


def test_vllm_probes_allow_ten_minutes_of_model_load(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    main = container(objects["StatefulSet", "vllm"])
    startup = main["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert main[probe]["httpGet"]["path"] == "/health", probe
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    exposed = Dockerfile.read(DOCKER / "vllm.Dockerfile").final.last("EXPOSE")
    assert exposed is not None and ports[startup["httpGet"]["port"]] == int(exposed.args)
    assert any(v["mountPath"] == "/dev/shm" for v in main["volumeMounts"])


def test_only_the_gateway_may_reach_vllm(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    policy = objects["NetworkPolicy", "vllm-only-from-gateway"]["spec"]
    vllm_labels = objects["StatefulSet", "vllm"]["spec"]["template"]["metadata"]["labels"]
    gateway_labels = objects["Deployment", "gateway"]["spec"]["template"]["metadata"]["labels"]
    assert selects(policy["podSelector"]["matchLabels"], vllm_labels)
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    (rule,) = policy["ingress"]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}, "no namespace-wide or IP peers"
    assert selects(peer["podSelector"]["matchLabels"], gateway_labels)
    assert not selects(peer["podSelector"]["matchLabels"], vllm_labels)
    assert [p["port"] for p in rule["ports"]] == [8000]
    assert policy["egress"] == [], "vLLM needs nothing from outside at run time"


# --- security -------------------------------------------------------------------------------------


@pytest.mark.parametrize("workload", [("StatefulSet", "vllm"), ("Deployment", "gateway")])
def test_pods_run_unprivileged_as_the_images_user(
    objects: dict[tuple[str, str], dict[str, Any]], workload: tuple[str, str]
) -> None:
    obj = objects[workload]
    pod = pod_spec(obj)
    dockerfile = "vllm.Dockerfile" if workload[1] == "vllm" else "gateway.Dockerfile"
    user = Dockerfile.read(DOCKER / dockerfile).final.user
    assert user is not None
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == user.split(":")[0]
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    context = container(obj)["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]


def test_gateway_replicas_spread_over_nodes_and_keep_no_state(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    gateway = objects["Deployment", "gateway"]
    pod = pod_spec(gateway)
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert gateway["spec"]["replicas"] >= 2
    assert objects["HorizontalPodAutoscaler", "gateway"]["spec"]["minReplicas"] >= 2
    assert gateway["spec"]["strategy"]["type"] == "RollingUpdate"
    spread = {c["topologyKey"]: c for c in pod["topologySpreadConstraints"]}
    by_node = spread["kubernetes.io/hostname"]
    assert by_node["maxSkew"] == 1 and by_node["whenUnsatisfiable"] == "DoNotSchedule"
    assert all(selects(c["labelSelector"]["matchLabels"], labels) for c in spread.values())
    assert "affinity" not in pod and "nodeSelector" not in pod and "nodeName" not in pod
    assert all("persistentVolumeClaim" not in v for v in pod.get("volumes", []))
    assert not [k for k, _ in objects if k == "PersistentVolumeClaim"], "no RWO volume"
    env = {v["name"]: v for v in container(gateway)["env"]}
    for name, key in (("GATEWAY_KEYS_DB", "keys-db-url"), ("GATEWAY_REDIS_URL", "redis-url")):
        assert env[name]["valueFrom"]["secretKeyRef"]["key"] == key
    (secret,) = load_yaml_docs(K8S / "secret.example.yaml")
    assert "postgresql://" in secret["stringData"]["keys-db-url"]
    assert "managed PostgreSQL" in (K8S / "gateway.yaml").read_text()


# --- settings that must agree ---------------------------------------------------------------------


def test_configured_profile_and_gateway_image_limit_agree(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    profile = get_profile(objects["ConfigMap", "vllm-config"]["data"]["VLLM_PROFILE"])
    assert profile.device == "cuda"
    gateway = objects["ConfigMap", "gateway-config"]["data"]
    assert int(gateway["GATEWAY_MAX_IMAGES_PER_REQUEST"]) == profile.limit_mm_per_prompt


def test_gateway_config_names_real_settings_and_an_existing_upstream(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    data = objects["ConfigMap", "gateway-config"]["data"]
    fields = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields}
    assert set(data) <= fields, f"unknown settings: {sorted(set(data) - fields)}"
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values are strings"
    url = urlsplit(data["GATEWAY_UPSTREAM_URL"])
    service = objects["Service", url.hostname or ""]
    assert url.port in [p["port"] for p in service["spec"]["ports"]]
    assert service["spec"].get("clusterIP") != "None", "one URL needs a balancing Service"
    assert "GATEWAY_KEYS_DB" not in data and "GATEWAY_REDIS_URL" not in data, "in the Secret"


def test_multi_upstream_setting_is_documented_with_stable_pod_names() -> None:
    text = (K8S / "config.yaml").read_text()
    assert re.search(r"#\s+GATEWAY_UPSTREAM_URLS: http://vllm-0\.vllm:8000,", text)
    assert "NOT built" not in text
