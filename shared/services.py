"""The one list of services: name, port, database, title, and the bureau each announces grants as.

Everything that names the services reads them from here: auth scopes, migrations, the ops CLI, the
programme names, the benchmark, the tests — and the shell scripts, through this module's command line
(standard library only, so it runs before the virtualenv exists):

    python3 -m shared.services --shell        registry:8001 medical:8002 … office:8008
    python3 -m shared.services --names        registry medical … office
    python3 -m shared.services --topics       registry.households employment.members assistance.grants registry.procedure registry.notices
    python3 -m shared.services --partitions   6 (KAFKA_PARTITIONS, else DEFAULT_PARTITIONS)

Events flow one way: the registry publishes the caseload, the bureaus grant and publish what they did,
the office reads everything and publishes nothing of its own.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass

HOUSEHOLDS_TOPIC = "registry.households"
EMPLOYMENT_TOPIC = "employment.members"
GRANTS_TOPIC = "assistance.grants"
# The dibao procedure's progress (applications, reviews, appeals), for the office's assessment: a topic of its own
# so that the bureaus, who act on the caseload only, do not read it.
PROCEDURE_TOPIC = "registry.procedure"
# The written notices issued to households (addressee, resident ID, address): for a postal or SMS service alone.
# None of the services reads it, so no bureau receives a notice's personal data.
NOTICES_TOPIC = "registry.notices"
TOPICS = (HOUSEHOLDS_TOPIC, EMPLOYMENT_TOPIC, GRANTS_TOPIC, PROCEDURE_TOPIC, NOTICES_TOPIC)

# Partitions per topic when the topics are created: the most replicas of one service that consume at
# once (a replica beyond them holds none). Events are keyed by household, so one household's events stay
# in one partition, in order; adding partitions later moves households to other partitions, which is
# an operation of its own (docs/deployment.md, "Partitions"). One setting, KAFKA_PARTITIONS, read here by
# the topic script (scripts/kafka.sh) and by docker-compose.yml (its default is this one, checked by a test).
DEFAULT_PARTITIONS = 6


def partitions(environ: Mapping[str, str] = os.environ) -> int:
    """The partitions a new topic gets: ``KAFKA_PARTITIONS`` if set, else :data:`DEFAULT_PARTITIONS`."""

    raw = environ.get("KAFKA_PARTITIONS", "").strip() or str(DEFAULT_PARTITIONS)
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ValueError(f"KAFKA_PARTITIONS is a whole number from 1 to 1000, not {raw!r}")
    return int(raw)


@dataclass(frozen=True, slots=True)
class Service:
    name: str  # package under services/, env prefix, consumer group, database
    port: int
    title: str
    # The bureau it announces its grants and payments as on assistance.grants (None: it announces none).
    bureau: str | None = None
    # How the one-stop view and the assessment name that bureau (Chinese, as the joint meeting reads it).
    bureau_name: str | None = None
    # Whether the office's assessment scores the bureau's coverage and timeliness.
    assessed: bool = False

    @property
    def database(self) -> str:
        return self.name


SERVICES: tuple[Service, ...] = (
    Service(
        "registry",
        8001,
        "Civil Affairs (民政局): households, dibao, monthly payments",
        bureau="civil_affairs",
        bureau_name="民政局 (低保)",
    ),
    Service(
        "medical",
        8002,
        "Health: medical assistance (医疗救助)",
        bureau="medical",
        bureau_name="医疗救助",
        assessed=True,
    ),
    Service(
        "education",
        8003,
        "Education Bureau and partners (就学救助)",
        bureau="education",
        bureau_name="就学救助",
        assessed=True,
    ),
    Service("housing", 8004, "Housing Bureau (住房救助)", bureau="housing", bureau_name="住房救助", assessed=True),
    Service(
        "employment",
        8005,
        "Labour and Social Security (就业救助)",
        bureau="employment",
        bureau_name="就业救助",
        assessed=True,
    ),
    Service(
        "utilities",
        8006,
        "Price Bureau, Water Group, Heating Office (水电暖救助)",
        bureau="utilities",
        bureau_name="水电暖救助",
        assessed=True,
    ),
    Service("legal", 8007, "Justice Bureau (法律救助)", bureau="legal", bureau_name="法律救助", assessed=True),
    Service("office", 8008, "The leading-group office (领导小组办公室): one-stop view, assessment, mutual aid"),
)

NAMES: tuple[str, ...] = tuple(service.name for service in SERVICES)
PORTS: dict[str, int] = {service.name: service.port for service in SERVICES}
BY_NAME: dict[str, Service] = {service.name: service for service in SERVICES}
BUREAUS: tuple[str, ...] = tuple(service.bureau for service in SERVICES if service.bureau)
BUREAU_NAMES: dict[str, str] = {
    service.bureau: service.bureau_name or service.bureau for service in SERVICES if service.bureau
}
ASSESSED_BUREAUS: tuple[str, ...] = tuple(service.bureau for service in SERVICES if service.bureau and service.assessed)
# The services that grant programmes because a household is in dibao (they consume the caseload and
# announce grants): every bureau but Civil Affairs itself.
GRANTING_SERVICES: tuple[str, ...] = tuple(service.name for service in SERVICES if service.bureau and service.assessed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The services, for scripts")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--shell", action="store_true", help="name:port pairs, space-separated")
    group.add_argument("--names", action="store_true", help="service names (= database names), space-separated")
    group.add_argument("--topics", action="store_true", help="the Kafka topics, space-separated")
    group.add_argument("--partitions", action="store_true", help="partitions per topic (KAFKA_PARTITIONS)")
    args = parser.parse_args(argv)
    if args.shell:
        print(" ".join(f"{service.name}:{service.port}" for service in SERVICES))
    elif args.names:
        print(" ".join(NAMES))
    elif args.partitions:
        try:
            print(partitions())
        except ValueError as exc:
            parser.error(str(exc))
    else:
        print(" ".join(TOPICS))


if __name__ == "__main__":
    main()
