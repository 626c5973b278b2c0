"""The whole system on this machine, as separate processes: a Kafka broker, optionally a PostgreSQL server,
and every service (uvicorn; shared/services.py), each with its own database (SQLite files or PostgreSQL databases).

The benchmark and the fault-injection suite both drive it; a broker and a database server of its own
mean it may stop, restart and wipe them without touching anything else running here.

With ``replicas`` above one, every service runs as that many processes ("instances": ``medical``,
``medical-2``, …) on one database and in one consumer group, as a cluster runs its replicas; each
instance has its own port, and the methods that take a service's name take an instance's.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
from pathlib import Path

import asyncpg
import httpx

from shared.auth import ALL_SCOPES, mint
from shared.services import NAMES as SERVICES

ROOT = Path(__file__).resolve().parents[1]


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free port not handed out before in this process: the kernel may give the same free port to two
    probes in a row, and two services told the same port left one of them answering for both."""

    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def free_port_pair() -> int:
    """A free port whose successor is free too (Kafka's controller listens on the next port)."""

    for _ in range(1000):
        port = random.randrange(20_000, 30_000)
        try:
            for candidate in (port, port + 1):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
            return port
        except OSError:
            continue
    raise RuntimeError("no two free ports in a row")


async def run(*command: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(process.communicate(), timeout))[0].decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return output


class LocalSystem:
    def __init__(self, workdir: Path, database: str = "postgres", replicas: int = 1) -> None:
        if database not in ("postgres", "sqlite"):
            raise ValueError("database is postgres or sqlite")
        if replicas < 1 or (replicas > 1 and database == "sqlite"):
            raise ValueError("replicas: one or more, and several only on PostgreSQL (a server several processes share)")
        self.workdir = workdir
        self.database = database
        self.replicas = replicas
        self.kafka_port = free_port_pair()
        self.pg_port = free_port()
        self.kafka = f"127.0.0.1:{self.kafka_port}"
        self.ports = {instance: free_port() for service in SERVICES for instance in self.instances(service)}
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.token = mint(subject="local-system", agency="local", scopes=ALL_SCOPES)
        (workdir / "logs").mkdir(parents=True, exist_ok=True)

    def instances(self, service: str) -> list[str]:
        """The processes of a service: its name for the first replica, ``<name>-2``, ``<name>-3`` … after."""

        return [service, *(f"{service}-{number}" for number in range(2, self.replicas + 1))]

    @staticmethod
    def service_of(instance: str) -> str:
        return instance.split("-", 1)[0]

    # ---- infrastructure ----------------------------------------------------------------------

    @property
    def kafka_env(self) -> dict[str, str]:
        return {"KAFKA_PORT": str(self.kafka_port), "KAFKA_RUN_DIR": str(self.workdir / "kafka")}

    @property
    def pg_env(self) -> dict[str, str]:
        return {"PG_PORT": str(self.pg_port), "PG_DATA": str(self.workdir / "pg" / "data")}

    async def start_kafka(self) -> None:
        await run(str(ROOT / "scripts" / "kafka.sh"), "start", env=self.kafka_env)

    async def stop_kafka(self) -> None:
        await run(str(ROOT / "scripts" / "kafka.sh"), "stop", env=self.kafka_env)

    async def start_postgres(self) -> None:
        (self.workdir / "pg").mkdir(exist_ok=True)
        if os.geteuid() == 0:
            # The server runs as the postgres user, which must be able to reach its data folder.
            for folder in (self.workdir, *self.workdir.parents):
                if folder == Path("/"):
                    break
                os.chmod(folder, os.stat(folder).st_mode | 0o111)
        await run(str(ROOT / "scripts" / "postgres.sh"), "start", env=self.pg_env)

    async def restart_postgres(self) -> None:
        await run(str(ROOT / "scripts" / "postgres.sh"), "restart", env=self.pg_env)

    async def stop_postgres(self) -> None:
        await run(str(ROOT / "scripts" / "postgres.sh"), "stop", env=self.pg_env)

    async def up(self) -> None:
        """Kafka, the database server if any, migrations, then every service."""

        await self.start_kafka()
        if self.database == "postgres":
            await self.start_postgres()
        for service in SERVICES:
            await self.migrate(service)
        # One replica of every service at a time: sixteen Python processes importing at once on two cores
        # took longer than a start may take.
        for replica in range(self.replicas):
            await asyncio.gather(*(self.start(self.instances(service)[replica]) for service in SERVICES))

    async def down(self) -> None:
        for service in list(self.processes):
            await self.kill(service, signal.SIGTERM)
        await self.stop_kafka()
        if self.database == "postgres":
            await self.stop_postgres()

    def database_url(self, service: str) -> str:
        if self.database == "sqlite":
            return f"sqlite+aiosqlite:///{self.workdir / 'db' / service}.db"
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.pg_port}/{service}"

    async def connect(self, service: str) -> asyncpg.Connection:
        return await asyncpg.connect(host="127.0.0.1", port=self.pg_port, user="postgres", database=service)

    async def migrate(self, service: str) -> None:
        (self.workdir / "db").mkdir(exist_ok=True)
        await run(sys.executable, "-m", "shared.migrations", service, "--url", self.database_url(service))

    async def wipe_database(self, service: str) -> None:
        if self.database == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.workdir / 'db' / service}.db{suffix}").unlink(missing_ok=True)
        else:
            admin = await asyncpg.connect(host="127.0.0.1", port=self.pg_port, user="postgres", database="postgres")
            try:
                await admin.execute(f'DROP DATABASE "{service}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{service}"')
            finally:
                await admin.close()
        await self.migrate(service)

    # ---- services ----------------------------------------------------------------------------

    async def start(self, instance: str, **settings: str) -> None:
        service = self.service_of(instance)
        prefix = service.upper()
        env = {
            f"{prefix}_DATABASE_URL": self.database_url(service),
            f"{prefix}_KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            f"{prefix}_ENVIRONMENT": "test",
            f"{prefix}_OUTBOX_POLL_SECONDS": "0.2",
            **{f"{prefix}_{key.upper()}": value for key, value in settings.items()},
        }
        log = open(self.workdir / "logs" / f"{instance}.log", "ab")  # noqa: SIM115 - the process writes to it while it runs
        self.processes[instance] = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"services.{service}.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.ports[instance]),
            "--no-access-log",
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        await self.wait_healthy(instance)

    async def wait_healthy(self, instance: str, timeout: float = 120, path: str = "/health") -> None:
        service = self.service_of(instance)
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    response = await http.get(f"http://127.0.0.1:{self.ports[instance]}{path}")
                    # The service itself, not another process on its port.
                    if response.status_code == 200 and response.json().get("service", service) == service:
                        return
                except (httpx.HTTPError, ValueError):
                    pass
                if self.processes[instance].returncode is not None:
                    raise RuntimeError(f"{instance} exited; see {self.workdir / 'logs' / instance}.log")
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{instance} did not answer {path}")
                await asyncio.sleep(0.2)

    async def kill(self, instance: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(instance)
        process.send_signal(sig)
        await process.wait()

    def pid(self, instance: str) -> int:
        return self.processes[instance].pid

    def client(self, instance: str, timeout: float = 300) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.ports[instance]}",
            timeout=timeout,
            headers={"Authorization": f"Bearer {self.token}"},
        )
