"""Rebuild the vendored schema subsets from the published specifications (run by hand, not in tests).

    python -m tests.fakes.spec.extract discord path/to/discord-api-spec/specs/openapi.json
    python -m tests.fakes.spec.extract slack path/to/slack-api-specs/web-api/slack_web_openapi_v2_without_examples.json

Each output keeps the spec's own names and `$ref`s ("#/components/schemas/X" / "#/definitions/X") for the closure of
the roots the fakes answer with; optional properties the fakes never send are pruned to `{}` (PRUNED, listed in the
file) so the files stay small. Slack's dated spec gets the amendments from Slack's Web API reference (slack_amend).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DISCORD_ROOTS = {
    "user": ["UserPIIResponse", "UserResponse"],
    "application": ["PrivateApplicationResponse", "GatewayBotResponse", "ApplicationCommandResponse"],
    "channel": ["GuildChannelResponse", "ThreadResponse"],
    "message": ["MessageResponse", "InteractionCallbackResponse", "PollAnswerDetailsResponse"],
    "error": ["ErrorResponse", "RatelimitedResponse"],
}
# Optional properties no fake answer carries: accepted as anything, so their (large) schemas need not be vendored.
PRUNED = {
    "MessageResponse": [
        "call",
        "activity",
        "application",
        "interaction",
        "mention_channels",
        "role_subscription_data",
        "purchase_notification",
        "resolved",
        "shared_client_theme",
        "stickers",
        "sticker_items",
        "referenced_message",
        "message_snapshots",
        "interaction_metadata",
        "attachments",
        "mentions",
        "position",
        "webhook_id",
        "application_id",
        "reactions",
    ],
    "MessageEmbedResponse": ["components", "video", "provider"],
    "UserResponse": ["avatar_decoration_data", "collectibles", "primary_guild"],
    "UserPIIResponse": ["avatar_decoration_data", "collectibles", "primary_guild"],
    "PrivateApplicationResponse": ["team", "bot", "integration_types_config"],
    "ApplicationCommandResponse": ["options"],
    "ActionRowComponentResponse": ["components"],
    "GuildChannelResponse": ["permission_overwrites", "available_tags", "default_reaction_emoji"],
    "ThreadResponse": ["member", "applied_tags", "video_quality_mode"],
}


def _closure(schemas: dict[str, Any], roots: list[str], prefix: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith(prefix) and (name := ref[len(prefix) :]) not in found:
                found[name] = _pruned(name, schemas[name])
                walk(found[name])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for root in roots:
        found[root] = _pruned(root, schemas[root])
        walk(found[root])
    return dict(sorted(found.items()))


def _pruned(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    for prop in PRUNED.get(name, []):
        if prop in schema.get("properties", {}):
            schema["properties"][prop] = {}
    return schema


def discord(spec_path: str, commit: str = "") -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    for name, roots in DISCORD_ROOTS.items():
        closure = _closure(schemas, roots, "#/components/schemas/")
        subset = {
            "$comment": f"discord/discord-api-spec@{commit} specs/openapi.json, pruned: see extract.py",
            "roots": roots,
            "components": {"schemas": closure},
        }
        (HERE / f"discord_{name}.json").write_text(json.dumps(subset, indent=1, ensure_ascii=False) + "\n")


SLACK_ROOTS = {
    "chat.postMessage": ("/chat.postMessage", "post"),
    "chat.update": ("/chat.update", "post"),
    "chat.delete": ("/chat.delete", "post"),
    "chat.getPermalink": ("/chat.getPermalink", "get"),
    "conversations.history": ("/conversations.history", "get"),
    "conversations.info": ("/conversations.info", "get"),
    "conversations.replies": ("/conversations.replies", "get"),
}


def slack(spec_path: str, commit: str = "") -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    methods = {}
    for method, (path, verb) in SLACK_ROOTS.items():
        responses = spec["paths"][path][verb]["responses"]
        methods[method] = {"ok": responses["200"]["schema"], "error": responses["default"]["schema"]}
    definitions = _closure(spec["definitions"], _refs(methods), "#/definitions/")
    subset = {
        "$comment": f"slackapi/slack-api-specs@{commit} web-api/slack_web_openapi_v2_without_examples.json "
        "(2021), amended from the Web API reference: see slack_amend in extract.py",
        "methods": methods,
        "definitions": definitions,
    }
    slack_amend(subset)
    (HERE / "slack_web.json").write_text(json.dumps(subset, indent=1, ensure_ascii=False) + "\n")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        own = [ref.removeprefix("#/definitions/")] if ref.startswith("#/definitions/") else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def slack_amend(subset: dict[str, Any]) -> None:
    """Where the 2021 spec files and today's Web API reference (docs.slack.dev/reference) disagree, the reference wins:
    - message objects carry `app_id`, `metadata` {event_type, event_payload} (message metadata, 2022) and `edited`;
    - conversations.history answers `response_metadata.next_cursor` (cursor pagination) and may have no messages;
    - chat.update's `message.blocks` is an array of blocks (the spec says object) and carries the sender fields;
    - error answers: `error` is any of the method's documented codes (the spec's enums predate missing_scope on
      chat.postMessage, msg_blocks_too_long, token_revoked, ...); missing_scope adds `needed` / `provided`;
    - a public channel from conversations.info is the first variant of the spec's objs_conversation, which today also
      carries `context_team_id` and `updated`;
    - conversations.replies answers message objects (the parent first, then the replies; the spec's two-item tuple
      of closed objects predates blocks and bot replies), with cursor pagination as conversations.history;
    - a reply posted with `reply_broadcast` is a message with subtype `thread_broadcast` and its thread's `root`."""
    definitions, methods = subset["definitions"], subset["methods"]
    message = definitions["objs_message"]["properties"]
    message["app_id"] = {"$ref": "#/definitions/defs_app_id"}
    message["metadata"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["event_type", "event_payload"],
        "properties": {"event_type": {"type": "string"}, "event_payload": {"type": "object"}},
    }
    message["edited"] = {
        "type": "object",
        "required": ["user", "ts"],
        "properties": {"user": {"$ref": "#/definitions/defs_user_id"}, "ts": {"$ref": "#/definitions/defs_ts"}},
    }
    history = methods["conversations.history"]["ok"]
    history["properties"]["response_metadata"] = {
        "type": "object",
        "required": ["next_cursor"],
        "properties": {"next_cursor": {"type": "string"}},
    }
    history["properties"]["messages"].pop("minItems", None)
    history["properties"]["channel_actions_ts"] = {"type": ["integer", "null"]}
    replies = methods["conversations.replies"]["ok"]["properties"]
    replies["messages"] = {"type": "array", "items": {"$ref": "#/definitions/objs_message"}}
    replies["response_metadata"] = history["properties"]["response_metadata"]
    message["root"] = {"type": "object", "required": ["ts", "text"]}
    update = methods["chat.update"]["ok"]["properties"]["message"]
    update["properties"] |= {
        key: {"$ref": f"#/definitions/objs_message/properties/{key}"}
        for key in ("blocks", "type", "user", "bot_id", "app_id", "bot_profile")
    }
    update["additionalProperties"] = False
    for answers in methods.values():
        error = answers["error"]["properties"]
        error["error"] = {"type": "string", "pattern": "^[a-z_]+$"}
        error["needed"], error["provided"] = {"type": "string"}, {"type": "string"}
    conversation = definitions["objs_conversation"]["items"][0]
    conversation["properties"]["context_team_id"] = {"$ref": "#/definitions/defs_team"}
    conversation["properties"]["updated"] = {"type": "integer"}
    definitions["objs_conversation"] = conversation


if __name__ == "__main__":
    {"discord": discord, "slack": slack}[sys.argv[1]](*sys.argv[2:])
