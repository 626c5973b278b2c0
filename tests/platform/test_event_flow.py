"""Events flow one way — registry → bureaus → office — as the running apps subscribe, not as a document says."""

from __future__ import annotations

import pytest

from shared.events import EMPLOYMENT_TOPIC, GRANTS_TOPIC, HOUSEHOLDS_TOPIC, NOTICES_TOPIC, PROCEDURE_TOPIC
from shared.services import GRANTING_SERVICES, NAMES
from tests.support import system

pytestmark = pytest.mark.integration


async def test_each_running_service_reads_only_the_topics_upstream_of_it(kafka, postgres):
    async with system(*NAMES) as s:
        topics = {name: sorted(s[name].app.state.platform.consumer.topics) for name in NAMES}
    assert topics["registry"] == [EMPLOYMENT_TOPIC], "the registry reads no bureau's grants"
    assert topics["office"] == sorted([HOUSEHOLDS_TOPIC, GRANTS_TOPIC, PROCEDURE_TOPIC])
    for bureau in GRANTING_SERVICES:
        assert topics[bureau] == [HOUSEHOLDS_TOPIC], bureau
    assert [name for name, read in topics.items() if GRANTS_TOPIC in read] == ["office"]
    assert [name for name, read in topics.items() if PROCEDURE_TOPIC in read] == ["office"], (
        "the bureaus act on the caseload only"
    )
    assert not [name for name, read in topics.items() if NOTICES_TOPIC in read], "notices are for the post alone"
