"""The fault scheme the Discord and Slack fakes share: which request a fault answers, and how often."""

from __future__ import annotations

import pytest

from tests.fakes.faults import FaultPlan


def test_a_fault_answers_matching_keys_in_full_once_by_default() -> None:
    plan = FaultPlan()
    fault = plan.inject(r"POST /channels/\d+/messages", "5xx", status=503)
    assert plan.take("POST /channels/1/messages/2/reactions") is None  # a full match, not a prefix
    assert plan.take("POST /channels/1/messages") is fault and fault.params == {"status": 503}
    assert plan.take("POST /channels/1/messages") is None and fault.hits == 1


def test_after_lets_requests_through_first_and_times_none_keeps_the_fault_until_cleared() -> None:
    plan = FaultPlan()
    fault = plan.inject("chat.postMessage", "not_in_channel", times=None, after=2)
    assert [plan.take("chat.postMessage") is fault for _ in range(5)] == [False, False, True, True, True]
    assert fault.hits == 3
    plan.clear("chat.postMessage")
    assert plan.take("chat.postMessage") is None


def test_faults_answer_in_injection_order_and_a_spent_one_gives_way() -> None:
    plan = FaultPlan()
    first = plan.inject("chat.update", "ratelimited", times=2, retry_after=30)
    second = plan.inject("chat.update", "5xx")
    assert [plan.take("chat.update") for _ in range(4)] == [first, first, second, None]
    plan.clear()
    assert plan.faults == []


def test_a_fake_can_restrict_the_modes_it_knows() -> None:
    plan = FaultPlan(frozenset({"5xx"}))
    with pytest.raises(ValueError, match="unknown fault mode 'gremlins'"):
        plan.inject("x", "gremlins")
    with pytest.raises(ValueError):
        plan.inject("x", "5xx", times=0)
