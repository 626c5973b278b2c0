"""GET /metrics: Prometheus text the ops team can scrape, with what they watch before a payment run."""

from __future__ import annotations

from datetime import date

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.periods import city_today, month_of
from tests.support import (
    AppClient,
    bearer,
    drop_database,
    enrol,
    eventually,
    household_body,
    migrated_database,
    new_prefix,
    running,
    service_app,
)

pytestmark = pytest.mark.integration


async def _scrape(client: AppClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics", headers=bearer("ops:metrics"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    wanted = set(labels.items())
    found = [value for (sample, sample_labels), value in samples.items() if sample == name and wanted <= sample_labels]
    return sum(found) if found else None


async def test_metrics_count_requests_by_route_and_show_outbox_lag_and_runs(kafka, postgres):
    url = await migrated_database("registry")
    try:
        async with running(service_app("registry", url, new_prefix())) as client:
            # Counters are the process's: other apps of the test run count too, so compare before and after.
            before = await _scrape(client)
            household = await enrol(client, household_body(enrolled_on=date(2026, 1, 5)))
            assert (await client.get(f"/households/{household['id']}")).status_code == 200
            assert (await client.get("/households/no-such-household")).status_code == 404
            paid = await client.post("/payment-runs", json={"period": month_of(city_today()).label})
            assert paid.status_code == 200 and paid.json()["households_paid"] == 1

            samples = await _scrape(client)

            def grew(name: str, **labels: str) -> float:
                return (_value(samples, name, **labels) or 0) - (_value(before, name, **labels) or 0)

            route = {"service": "registry", "route": "/households/{household_id}", "method": "GET"}
            # The route's template, never the household's ID: one series per route and status.
            assert grew("harbin_http_requests_total", status="200", **route) == 1
            assert grew("harbin_http_requests_total", status="404", **route) == 1
            assert not any(household["id"] in str(labels) for _, labels in samples)
            assert grew("harbin_http_request_duration_seconds_count", **route) == 2
            run = {"service": "registry", "run": "payment_runs"}
            assert grew("harbin_run_paid_yuan_total", **run) == float(paid.json()["total_amount"])
            assert grew("harbin_run_duration_seconds_count", **run) == 1
            assert _value(samples, "harbin_outbox_backlog", service="registry") is not None
            assert _value(samples, "harbin_outbox_oldest_age_seconds", service="registry") is not None

            # The consumer's partitions, once it holds them: nothing published on employment.members, no lag.
            async def lag_reported() -> tuple[float] | None:
                lag = _value(
                    await _scrape(client), "harbin_consumer_lag", service="registry", topic="employment.members"
                )
                return None if lag is None else (lag,)

            assert await eventually(lag_reported) == (0,)
            assert _value(samples, "process_resident_memory_bytes") is not None
    finally:
        await drop_database(url)


async def test_metrics_need_the_monitoring_scope(kafka, postgres):
    url = await migrated_database("legal")
    try:
        async with running(service_app("legal", url, new_prefix()), authorised=False) as client:
            assert (await client.get("/metrics")).status_code == 401
            assert (await client.get("/metrics", headers=bearer("legal:read"))).status_code == 403
            assert (await client.get("/metrics", headers=bearer("ops:metrics"))).status_code == 200
    finally:
        await drop_database(url)
