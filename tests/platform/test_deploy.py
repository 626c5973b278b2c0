"""The Helm chart under deploy/, rendered with Helm and checked against Kubernetes' own schemas (no cluster
runs here): one Deployment per service of shared/services.py, migrations before every rollout, secrets
only by reference, scaling on consumer lag within the partitions."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from prometheus_client import REGISTRY

from shared.services import DEFAULT_PARTITIONS, GRANTING_SERVICES, PORTS, TOPICS
from shared.services import NAMES as SERVICES
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "harbin-assistance"
EXAMPLES = sorted((ROOT / "deploy" / "examples").glob("*.yaml"))
RELEASE = "harbin"
# The oldest Kubernetes the chart admits (Chart.yaml's kubeVersion) and the newest the schemas know.
KUBERNETES = ("1.27.0", kubernetes_validate.latest_version())
# Custom resources: their operators' schemas are not in kubernetes-validate, and no copy is kept here,
# so these kinds are checked by the assertions below only — skipped by the schema check, and said so.
CUSTOM_RESOURCES = {
    "ScaledObject": "keda.sh/v1alpha1",
    "TriggerAuthentication": "keda.sh/v1alpha1",
    "KafkaTopic": "kafka.strimzi.io/v1beta2",
}
SCALED = (*GRANTING_SERVICES, "office")  # the services whose replicas follow their consumer lag


@cache
def helm() -> str:
    # Installs Helm once (scripts/test.sh has usually done it already) and prints its path.
    return subprocess.run(
        [str(ROOT / "scripts" / "deploy-tools.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()


def render(*args: str) -> subprocess.CompletedProcess[str]:
    command = [helm(), "template", RELEASE, str(CHART), "--kube-version", KUBERNETES[0], *args]
    return subprocess.run(command, capture_output=True, text=True)


@cache
def objects(*args: str) -> tuple[dict[str, Any], ...]:
    rendered = render(*args)
    assert rendered.returncode == 0, rendered.stderr
    return tuple(doc for doc in yaml.safe_load_all(rendered.stdout) if doc)


def of_kind(kind: str, *args: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects(*args) if o["kind"] == kind}


VARIANTS = [(), *(("-f", str(example)) for example in EXAMPLES)]
VARIANT_IDS = ["defaults", *(example.stem for example in EXAMPLES)]


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container["env"]}


@pytest.mark.parametrize("args", VARIANTS, ids=VARIANT_IDS)
def test_the_chart_lints_strictly(args):
    lint = subprocess.run([helm(), "lint", "--strict", str(CHART), *args], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("args", VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("version", KUBERNETES)
def test_every_object_is_valid_against_the_kubernetes_schemas(args, version):
    checked = 0
    for manifest in objects(*args):
        if manifest["kind"] in CUSTOM_RESOURCES:
            assert manifest["apiVersion"] == CUSTOM_RESOURCES[manifest["kind"]]
            continue
        # Strict: a field Kubernetes does not know (a typo) is an error, not silently dropped.
        kubernetes_validate.validate(manifest, version, strict=True)
        checked += 1
    assert checked >= 4 * len(SERVICES)


def test_a_broken_manifest_is_caught_by_the_schema_check():
    deployment = next(iter(of_kind("Deployment").values()))
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/ready"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES[0], strict=True)


def test_the_values_list_every_service_with_its_port_and_every_topic(values):
    assert {name: spec["port"] for name, spec in values["services"].items()} == PORTS
    assert tuple(values["kafka"]["topics"]["names"]) == TOPICS
    assert values["kafka"]["partitions"] == DEFAULT_PARTITIONS


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_a_deployment_probed_on_ready_and_health_with_resources_and_its_own_database(service):
    deployment = of_kind("Deployment")[f"{RELEASE}-{service}"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]
    assert container["resources"]["requests"]["cpu"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]  # the Dockerfile's port
    env = env_of(container)
    prefix = service.upper()
    assert env["SERVICE"]["value"] == service
    assert env[f"{prefix}_ENVIRONMENT"]["value"] == "production"
    url = env[f"{prefix}_DATABASE_URL"]["value"]
    assert url.startswith(f"postgresql+asyncpg://{service}:$({prefix}_DB_PASSWORD)@") and url.endswith(f"/{service}")
    assert env[f"{prefix}_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"harbin-db-{service}"
    assert env[f"{prefix}_AUDIT_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "harbin-audit-key"
    # The keys of the facts sealed for the office: the registry (which seals) and the office (which opens) only.
    if service in ("registry", "office"):
        assert env[f"{prefix}_SEAL_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "harbin-seal-keys"
    else:
        assert f"{prefix}_SEAL_KEYS" not in env
    # Kafka as the service's own principal over TLS, the brokers' CA mounted where the setting says.
    assert env[f"{prefix}_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env[f"{prefix}_KAFKA_USERNAME"]["value"] == service
    assert env[f"{prefix}_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"harbin-kafka-{service}"
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert env[f"{prefix}_KAFKA_CA_FILE"]["value"].startswith(mounts["kafka-ca"] + "/")
    assert volumes["kafka-ca"]["secret"]["secretName"] == "harbin-kafka-cluster-ca-cert"
    # Tokens: RS256 against the issuer's public keys, from a ConfigMap (they are not secret).
    assert env[f"{prefix}_JWT_ALGORITHM"]["value"] == "RS256"
    assert env[f"{prefix}_JWT_JWKS"]["value"].startswith(mounts["jwks"] + "/")
    assert volumes["jwks"]["configMap"]["name"] == "harbin-jwks"
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user
    # A rollout never takes a replica away before its successor is ready.
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert of_kind("Service")[f"{RELEASE}-{service}"]["spec"]["ports"][0]["port"] == PORTS[service]
    assert of_kind("PodDisruptionBudget")[f"{RELEASE}-{service}"]["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("args", VARIANTS, ids=VARIANT_IDS)
def test_every_setting_the_chart_passes_is_one_the_services_read(args):
    fields = set(ServiceSettings.model_fields)
    for manifest in objects(*args):
        if manifest["kind"] not in ("Deployment", "Job") or manifest["metadata"]["name"].endswith("kafka-topics"):
            continue
        (container,) = manifest["spec"]["template"]["spec"]["containers"]
        service = env_of(container)["SERVICE"]["value"]
        for name in env_of(container):
            if name == "SERVICE" or name == f"{service.upper()}_DB_PASSWORD":  # the image's; the URL's part
                continue
            assert name.startswith(f"{service.upper()}_"), name
            assert name.removeprefix(f"{service.upper()}_").lower() in fields, name


@pytest.mark.parametrize("args", VARIANTS, ids=VARIANT_IDS)
def test_no_secret_value_is_rendered_only_references_to_existing_secrets(args):
    assert not [o for o in objects(*args) if o["kind"] == "Secret"]
    for manifest in objects(*args):
        if manifest["kind"] not in ("Deployment", "Job"):
            continue
        for container in manifest["spec"]["template"]["spec"]["containers"]:
            for entry in container.get("env", []):
                if re.search(r"PASSWORD|SECRET|AUDIT_KEY|SEAL_KEYS", entry["name"]):
                    assert set(entry) == {"name", "valueFrom"}, entry
                    assert "secretKeyRef" in entry["valueFrom"], entry


def test_every_service_is_migrated_by_a_job_before_install_and_every_upgrade():
    jobs = of_kind("Job")
    topics_weight = int(jobs[f"{RELEASE}-kafka-topics"]["metadata"]["annotations"]["helm.sh/hook-weight"])
    for service in SERVICES:
        job = jobs[f"{RELEASE}-{service}-migrate"]
        annotations = job["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
        assert int(annotations["helm.sh/hook-weight"]) > topics_weight
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"][:5] == ["python", "-m", "shared.migrations", service, "upgrade"]
        assert "--wait" in container["command"]
        assert (
            env_of(container)[f"{service.upper()}_DATABASE_URL"]
            == env_of(of_kind("Deployment")[f"{RELEASE}-{service}"]["spec"]["template"]["spec"]["containers"][0])[
                f"{service.upper()}_DATABASE_URL"
            ]
        )


def test_the_topics_job_creates_the_topics_and_acls_as_the_admin_with_the_partitions_setting():
    job = of_kind("Job", "--set", "kafka.partitions=12", "--set", "autoscaling.maxReplicas=12")[
        f"{RELEASE}-kafka-topics"
    ]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    # The same step as compose's kafka-setup: every topic, each dead-letter topic and every principal's ACLs.
    assert container["command"] == [
        "python", "-m", "shared.kafka_security", "setup", "--partitions", "12", "--replication-factor", "3",
    ]  # fmt: skip
    env = env_of(container)
    assert env["HARBIN_KAFKA_USERNAME"]["value"] == "admin"
    assert env["HARBIN_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "harbin-kafka-admin"
    for service in SERVICES:  # what the services create themselves (dead letters) is laid out alike
        env = env_of(
            of_kind("Deployment", "--set", "kafka.partitions=12", "--set", "autoscaling.maxReplicas=12")[
                f"{RELEASE}-{service}"
            ]["spec"]["template"]["spec"]["containers"][0]
        )
        assert env[f"{service.upper()}_KAFKA_PARTITIONS"]["value"] == "12"


def test_a_test_bed_on_plain_kafka_with_a_shared_token_secret_mounts_and_authenticates_nothing_more():
    example = ("-f", str(ROOT / "deploy" / "examples" / "test-bed.yaml"))
    assert not of_kind("TriggerAuthentication", *example)
    for service in SERVICES:
        pod = of_kind("Deployment", *example)[f"{RELEASE}-{service}"]["spec"]["template"]["spec"]
        env = env_of(pod["containers"][0])
        prefix = service.upper()
        assert env[f"{prefix}_KAFKA_SECURITY_PROTOCOL"]["value"] == "PLAINTEXT"
        assert not {f"{prefix}_KAFKA_USERNAME", f"{prefix}_KAFKA_PASSWORD", f"{prefix}_KAFKA_CA_FILE"} & set(env)
        assert env[f"{prefix}_JWT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "harbin-jwt"
        assert [volume["name"] for volume in pod["volumes"]] == ["tmp"]


def test_strimzi_topics_are_kept_when_the_release_is_deleted():
    example = ("-f", str(ROOT / "deploy" / "examples" / "strimzi-cloudnativepg.yaml"))
    topics = of_kind("KafkaTopic", *example)
    assert sorted(t["spec"]["topicName"] for t in topics.values()) == sorted(TOPICS)
    for topic in topics.values():
        assert topic["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "harbin-kafka"
        assert topic["spec"]["partitions"] == 12 and topic["spec"]["config"]["retention.ms"] == -1
    assert f"{RELEASE}-kafka-topics" not in of_kind("Job", *example)


def test_the_bureaus_scale_on_their_consumer_groups_lag_never_beyond_the_partitions():
    scaled = of_kind("ScaledObject")
    assert set(scaled) == {f"{RELEASE}-{service}" for service in SCALED}
    deployments = of_kind("Deployment")
    for service in SCALED:
        spec = scaled[f"{RELEASE}-{service}"]["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == service  # shared/consumer.py: the group is the service
        # KEDA reads the lag as the service's own principal: the container's settings, the brokers' CA.
        assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == ("scram_sha512", "enable")
        authentication = of_kind("TriggerAuthentication")[trigger["authenticationRef"]["name"]]["spec"]
        assert {ref["name"] for ref in authentication["env"]} == {
            f"{service.upper()}_KAFKA_USERNAME",
            f"{service.upper()}_KAFKA_PASSWORD",
        }
        assert authentication["secretTargetRef"][0]["parameter"] == "ca"
        assert trigger["metadata"]["allowIdleConsumers"] == "false"
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= DEFAULT_PARTITIONS
        # The autoscaler owns the count: a replicas field would reset it at every upgrade.
        assert "replicas" not in deployments[f"{RELEASE}-{service}"]["spec"]
    assert deployments[f"{RELEASE}-registry"]["spec"]["replicas"] == 2


def test_the_hpa_variant_scales_on_the_lag_metric_the_services_expose():
    import shared.metrics  # noqa: F401  # registers the services' metrics

    exposed = {family.name for family in REGISTRY.collect()}
    hpas = of_kind("HorizontalPodAutoscaler", "-f", str(ROOT / "deploy" / "examples" / "hpa.yaml"))
    assert set(hpas) == {f"{RELEASE}-{service}" for service in SCALED}
    for name, hpa in hpas.items():
        (metric,) = hpa["spec"]["metrics"]
        assert metric["external"]["metric"]["name"] in exposed
        assert metric["external"]["metric"]["selector"]["matchLabels"]["service"] == name.removeprefix(f"{RELEASE}-")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (("autoscaling.maxReplicas=7",), "is above kafka.partitions"),
        (("kafka.partitions=0",), "kafka.partitions must be at least 1"),
        (("kafka.topics.create=auto",), "kafka.topics.create is job, strimzi or none"),
        (("jwt.jwksConfigMap=",), "where the issuer's public keys are"),
        (("kafka.securityProtocol=SASL",), "kafka.securityProtocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    ],
)
def test_a_deployment_the_system_cannot_run_is_refused_before_anything_is_applied(settings, message):
    rendered = render(*(arg for setting in settings for arg in ("--set", setting)))
    assert rendered.returncode != 0 and message in rendered.stderr, rendered.stderr
