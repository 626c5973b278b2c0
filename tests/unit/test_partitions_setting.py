"""KAFKA_PARTITIONS, the one setting for the partitions of every topic (shared/services.py)."""

from __future__ import annotations

import pytest

from shared.kafka import TopicLayout
from shared.services import DEFAULT_PARTITIONS, partitions


def test_partitions_default_when_unset_and_follow_the_setting_when_set():
    assert partitions({}) == DEFAULT_PARTITIONS
    assert partitions({"KAFKA_PARTITIONS": " 12 "}) == 12


@pytest.mark.parametrize("raw", ["0", "-3", "six", "1.5", "1001"])
def test_partitions_that_are_not_a_whole_number_from_1_to_1000_are_refused(raw):
    with pytest.raises(ValueError, match="KAFKA_PARTITIONS"):
        partitions({"KAFKA_PARTITIONS": raw})


def test_topics_a_service_creates_on_a_cluster_need_all_but_one_replica_in_sync():
    assert TopicLayout(12, 3).config("registry.households")["min.insync.replicas"] == "2"
    assert TopicLayout(6, 1).config("medical.registry.households.dlq")["min.insync.replicas"] == "1"
    # Dead letters keep their own retention; events are kept forever.
    assert TopicLayout().config("registry.households")["retention.ms"] == "-1"
    assert TopicLayout().config("medical.registry.households.dlq")["retention.ms"] != "-1"
