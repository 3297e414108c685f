from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.channel_settings import SettingsChange, apply_options, option_name
from bot.domain.errors import BadInput
from bot.domain.messages import describe
from bot.domain.model import ChannelSettings, Pause
from bot.domain.text import whole_number


def test_options_typed_in_chat_are_normalised() -> None:
    settings = apply_options(
        ChannelSettings(),
        {
            "categories": "cs.LG, cs.CL,cs.LG",
            "time": "9:05",
            "tz": "Europe/Berlin",
            "top": "7",
            "weekdays": "mon-wed,fri",
            "authors": "Titov",
            "exclude": "survey",
            "announce_empty": "yes",
        },
    )
    assert settings.categories == ("cs.LG", "cs.CL")
    assert (settings.post_time, settings.timezone, settings.top_n) == ("09:05", "Europe/Berlin", 7)
    assert settings.weekdays == (0, 1, 2, 4)
    assert settings.authors == ("Titov",) and settings.negative_keywords == ("survey",)
    assert settings.announce_empty is True


def test_weekday_ranges_wrap_around_the_weekend() -> None:
    assert apply_options(ChannelSettings(), {"weekdays": "fri-mon"}).weekdays == (0, 4, 5, 6)
    assert apply_options(ChannelSettings(), {"weekdays": "daily"}).weekdays == tuple(range(7))


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"top_n": "0"}, "top_n"),
        ({"top_n": "many"}, "top_n"),
        ({"post_time": "25:00"}, "post_time"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"weekdays": "someday"}, "weekdays"),
        ({"categories": "not a category"}, "categories"),
        ({"keywords": "@everyone"}, "keywords"),
        ({"authors": "<@123>"}, "authors"),
        ({"keywords": "x" * 101}, "keywords"),
        ({"keywords": ",".join(f"k{i}" for i in range(51))}, "keywords"),
        ({"colour": "blue"}, "unknown setting"),
        ({"announce_empty": "maybe"}, "announce_empty"),
    ],
)
def test_a_bad_option_is_refused_naming_it(options: dict[str, str], names: str) -> None:
    with pytest.raises(BadInput, match=names):
        apply_options(ChannelSettings(), options)


def test_clear_empties_a_list() -> None:
    assert apply_options(ChannelSettings(keywords=("a",)), {"keywords": "clear"}).keywords == ()


def test_describe_lists_every_setting() -> None:
    text = describe(ChannelSettings(categories=("cs.LG",), subscribed=True))
    assert "categories: cs.LG" in text and "09:00 UTC on mon,tue,wed,thu,fri" in text and "subscribed: yes" in text


def test_describe_shows_a_pause_first_with_its_fix() -> None:
    pause = Pause(
        "hotpapers is not a member of #ml", "invite @hotpapers to #ml", "channel", datetime(2020, 1, 1, tzinfo=UTC)
    )
    lines = describe(ChannelSettings(paused=pause)).splitlines()
    assert lines[0] == (
        "paused: hotpapers is not a member of #ml — to fix it: invite @hotpapers to #ml (then subscribe again; "
        "retried daily)"
    )
    assert not describe(ChannelSettings()).startswith("paused")


@pytest.mark.parametrize("text", ["²", "١٢", "1" * 100_000, "99999999999999999999", "-1", "", " ", "3.0"])
def test_whole_number_takes_ascii_digits_within_bounds_only(text: str) -> None:
    with pytest.raises(BadInput, match="must be a whole number from 1 to"):
        whole_number(text, what="N", low=1)


def test_whole_number_reads_ascii_digits() -> None:
    assert whole_number(" 42 ", what="N", low=1, high=42) == 42


def test_typed_options_are_checked_as_they_are_and_text_ones_parsed_as_typed_in_chat() -> None:
    change = SettingsChange(categories="cs.LG, cs.CL", top_n=7, announce_empty=False, weekdays="mon-wed")
    settings = apply_options(ChannelSettings(announce_empty=True), change)
    assert settings.categories == ("cs.LG", "cs.CL") and settings.top_n == 7 and settings.announce_empty is False
    assert settings.weekdays == (0, 1, 2)
    assert apply_options(ChannelSettings(top_n=4), SettingsChange()) == ChannelSettings(top_n=4)


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (SettingsChange(top_n=26), "top_n: must be a whole number from 1 to 25"),
        (SettingsChange(top_n=True), "top_n: must be text"),  # type: ignore[arg-type]  # a flag is not a number
        (SettingsChange(announce_empty=1), "announce_empty: must be text"),  # type: ignore[arg-type]
        (SettingsChange(timezone="Mars/Olympus"), "timezone"),
    ],
)
def test_a_bad_typed_option_is_refused_naming_it(change: SettingsChange, names: str) -> None:
    with pytest.raises(BadInput, match=names):
        apply_options(ChannelSettings(), change)


@pytest.mark.parametrize(
    ("typed", "name"),
    [("time", "post_time"), ("Post-Time", "post_time"), (" tz ", "timezone"), ("exclude", "negative_keywords")],
)
def test_an_option_typed_in_chat_names_its_setting_by_alias_or_spelling(typed: str, name: str) -> None:
    assert option_name(typed) == name


@pytest.mark.parametrize("value", ["²:00", "09:٠٠", "009:00", "9:0000"])
def test_a_post_time_is_ascii_hh_mm(value: str) -> None:
    with pytest.raises(BadInput, match=r"post_time: post time .* must be HH:MM"):
        apply_options(ChannelSettings(), {"time": value})


def test_thread_and_roundup_settings_are_parsed_and_bad_ones_refused() -> None:
    settings = apply_options(
        ChannelSettings(),
        {"threads": "Always", "roundup": "on", "roundup_day": "Monday", "roundup_time": "8:30", "roundup_empty": "yes"},
    )
    assert (settings.threads, settings.roundup, settings.roundup_day) == ("always", True, 0)
    assert (settings.roundup_time, settings.roundup_empty) == ("08:30", True)
    defaults = ChannelSettings()
    assert (defaults.threads, defaults.roundup, defaults.roundup_day, defaults.roundup_time) == (
        "button", False, 4, "16:00"
    )  # fmt: skip
    for options, name in (
        ({"threads": "sometimes"}, "threads"),
        ({"roundup_day": "someday"}, "roundup_day"),
        ({"roundup_time": "16:61"}, "roundup_time"),
        ({"roundup": "maybe"}, "roundup"),
    ):
        with pytest.raises(BadInput, match=name):
            apply_options(ChannelSettings(), options)
    shown = describe(settings)
    assert "discussion threads: one opened for every paper as it is posted" in shown
    assert "weekly roundup: Mondays at 08:30 UTC; one line for a quiet week" in shown


def test_a_weekly_journal_club_poll_is_a_day_and_a_time_or_off() -> None:
    settings = apply_options(ChannelSettings(), {"journalclub": "Friday 15:30"})
    assert settings.journal_club == "fri 15:30"
    assert apply_options(settings, {"journal-club": "off"}).journal_club == ""
    assert "weekly journal-club poll: fri 15:30 UTC" in describe(settings)
    assert "journal-club" not in describe(ChannelSettings())
    for bad in ("someday 15:00", "fri", "fri 25:00"):
        with pytest.raises(BadInput, match="journal_club"):
            apply_options(ChannelSettings(), {"journalclub": bad})
