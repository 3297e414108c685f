"""Metrics count on their own and count what the service reports; Prometheus' own parser reads what they render."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.runtime.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_digest_votes_and_source_errors_are_counted_per_label() -> None:
    metrics = Metrics()
    metrics.digest_posted("discord", 5)
    metrics.digest_posted("discord", 0)
    metrics.digest_posted("slack", 3)
    metrics.vote("slack", "recorded")
    metrics.vote("slack", "recorded")
    metrics.vote("slack", "ignored")
    metrics.source_error("hn")

    found = samples(metrics)
    assert found[("hotpapers_digests_posted_total", (("platform", "discord"),))] == 2
    assert found[("hotpapers_digest_messages_total", (("platform", "discord"),))] == 5
    assert found[("hotpapers_digest_messages_total", (("platform", "slack"),))] == 3
    assert found[("hotpapers_votes_recorded_total", (("platform", "slack"), ("result", "recorded")))] == 2
    assert found[("hotpapers_votes_recorded_total", (("platform", "slack"), ("result", "ignored")))] == 1
    assert found[("hotpapers_source_errors_total", (("source", "hn"),))] == 1


def test_paper_latency_lands_in_the_right_buckets_and_up_reflects_the_state() -> None:
    metrics = Metrics()
    metrics.observe_paper(0.04)
    metrics.observe_paper(3.0)
    metrics.set_up()

    found = samples(metrics)
    assert found[("hotpapers_paper_seconds_bucket", (("le", "0.05"),))] == 1
    assert found[("hotpapers_paper_seconds_bucket", (("le", "5.0"),))] == 2
    assert found[("hotpapers_paper_seconds_count", ())] == 2
    assert found[("hotpapers_paper_seconds_sum", ())] == 3.04
    assert found[("hotpapers_up", ())] == 1
    metrics.set_up(False)
    assert samples(metrics)[("hotpapers_up", ())] == 0


def test_two_instances_do_not_share_or_clash_over_series() -> None:
    first, second = Metrics(), Metrics()
    first.vote("discord", "recorded")
    key = ("hotpapers_votes_recorded_total", (("platform", "discord"), ("result", "recorded")))
    assert samples(first)[key] == 1
    assert key not in samples(second)


def test_label_values_are_escaped_as_the_text_format_says() -> None:
    metrics = Metrics()
    metrics.source_error('a"b\\c\nd')
    assert 'source="a\\"b\\\\c\\nd"' in metrics.render().decode()
    assert samples(metrics)[("hotpapers_source_errors_total", (("source", 'a"b\\c\nd'),))] == 1
