"""What the adapter reads from Slack and from the config: command options, reactions, [slack] and secrets."""

from __future__ import annotations

import pytest

from adapters.slack.events import reaction_value, reaction_vote
from adapters.slack.options import parse_options, split_subcommand
from adapters.slack.settings import Secrets, Settings
from bot.domain.errors import BadInput, ConfigError
from tests.adapters.slack.support import payload

UP, DOWN = ("+1", "thumbsup", "fire"), ("-1", "thumbsdown")


def test_subscribe_options_are_split_into_raw_strings_with_the_short_aliases_resolved() -> None:
    text = 'categories=cs.LG,cs.CL keywords="diffusion, rl" time=09:00 tz=Europe/Berlin top=5 weekdays=mon-fri'
    assert parse_options(text) == {
        "categories": "cs.LG,cs.CL",
        "keywords": "diffusion, rl",
        "post_time": "09:00",
        "timezone": "Europe/Berlin",
        "top_n": "5",
        "weekdays": "mon-fri",
    }


def test_typographic_quotes_and_slack_escaping_are_undone_before_parsing() -> None:
    assert parse_options("keywords=“diffusion &amp; rl” authors=O'Neil") == {
        "keywords": "diffusion & rl",
        "authors": "O'Neil",
    }


@pytest.mark.parametrize(
    ("text", "complaint"),
    [("top5", "key=value"), ('keywords="diffusion', "Unbalanced quotes"), ("top=1 top=2", "given twice")],
)
def test_malformed_options_are_refused_with_a_message_saying_why(text: str, complaint: str) -> None:
    with pytest.raises(BadInput, match=complaint):
        parse_options(text)


def test_the_first_word_is_the_subcommand_and_an_empty_text_asks_for_help() -> None:
    assert split_subcommand("  Subscribe  top=5 tz=UTC") == ("subscribe", "top=5 tz=UTC")
    assert split_subcommand("") == ("help", "")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("+1", 1),
        ("thumbsup", 1),
        ("+1::skin-tone-3", 1),
        ("fire", 1),
        ("-1", -1),
        ("thumbsdown::skin-tone-6", -1),
        ("eyes", None),
        ("+10", None),
    ],
)
def test_reaction_names_map_to_votes_whatever_the_skin_tone(name: str, value: int | None) -> None:
    assert reaction_value(name, up=UP, down=DOWN) == value


def test_a_reaction_event_becomes_a_vote_on_that_message_with_its_event_id() -> None:
    vote = reaction_vote(payload("reaction_added"), removed=False, bot_user_id="UBOT", up=UP, down=DOWN)
    assert vote is not None
    assert (vote.channel.key, vote.user_id, vote.message_id, vote.value, vote.event_id, vote.by_bot) == (
        "slack:T111:C111",
        "U222",
        "1700000001.000001",
        1,
        "Ev0001",
        False,
    )


def test_reactions_on_files_and_the_bots_own_reactions_are_not_votes() -> None:
    on_file = payload("reaction_added")
    on_file["event"]["item"] = {"type": "file", "file": "F123"}
    assert reaction_vote(on_file, removed=False, bot_user_id="UBOT", up=UP, down=DOWN) is None
    by_bot = payload("reaction_added")
    by_bot["event"]["user"] = "UBOT"
    vote = reaction_vote(by_bot, removed=False, bot_user_id="UBOT", up=UP, down=DOWN)
    assert vote is not None and vote.by_bot


def test_the_slack_table_rejects_unknown_keys_and_names_them() -> None:
    with pytest.raises(ConfigError, match=r"slack\.prot"):
        Settings.parse({"enabled": True, "prot": 3000})
    assert Settings.parse({"up_reactions": [":fire:", "rocket"]}).up_reactions == ("fire", "rocket")


def test_a_missing_secret_is_named_and_no_secret_value_appears_in_the_error() -> None:
    env = {"SLACK_SIGNING_SECRET": "s3cr3t-value"}
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN") as caught:
        Secrets.from_env(Settings(enabled=True), env)
    assert "s3cr3t-value" not in str(caught.value)
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        Secrets.from_env(Settings(enabled=True, mode="socket"), {"SLACK_BOT_TOKEN": "xoxb-1"})
    with pytest.raises(ConfigError, match="SLACK_CLIENT_ID, SLACK_CLIENT_SECRET"):
        Secrets.from_env(Settings(enabled=True, oauth=True), env)


def test_oauth_credentials_in_a_single_workspace_setup_are_refused_rather_than_silently_used() -> None:
    env = {"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CLIENT_ID": "1", "SLACK_CLIENT_SECRET": "2"}
    with pytest.raises(ConfigError, match="oauth = true"):
        Secrets.from_env(Settings(enabled=True), env)


def test_secrets_never_show_in_their_repr() -> None:
    secrets = Secrets.from_env(Settings(enabled=True), {"SLACK_SIGNING_SECRET": "sig", "SLACK_BOT_TOKEN": "xoxb-9"})
    assert secrets.bot_token == "xoxb-9" and "xoxb-9" not in repr(secrets) and "sig" not in repr(secrets)
