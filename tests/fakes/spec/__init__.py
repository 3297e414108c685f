"""Schema subsets of the platforms' published API specifications, vendored so tests can check what the fakes answer.

discord_*.json: discord/discord-api-spec@74fda0fad044407ea280043a03ffc9bc64c4e49e (2026-07-18) specs/openapi.json.
slack_web.json: slackapi/slack-api-specs@bc08db49625630e3585bf2f1322128ea04f2a7f3 (2021-09-07)
web-api/slack_web_openapi_v2_without_examples.json, amended from Slack's Web API reference where they disagree.
extract.py rebuilds them (what is pruned and amended is listed there).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@cache
def _discord_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for path in sorted(HERE.glob("discord_*.json")):
        schemas |= json.loads(path.read_text(encoding="utf-8"))["components"]["schemas"]
    return {"components": {"schemas": schemas}}


@cache
def _slack_document() -> dict[str, Any]:
    return json.loads((HERE / "slack_web.json").read_text(encoding="utf-8"))


def discord_errors(name: str, array: bool, instance: Any) -> list[str]:
    """Every way `instance` differs from the spec's `name` schema (a list of them with `array`); empty when it fits."""
    from jsonschema import Draft202012Validator

    ref = {"$ref": f"#/components/schemas/{name}"}
    schema = _discord_document() | ({"type": "array", "items": ref} if array else ref)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft202012Validator(schema).iter_errors(instance)
    ]


def discord_unknown_fields(name: str, array: bool, instance: Any) -> list[str]:
    """Top-level fields the spec's `name` schema does not define: a fake inventing fields Discord never sends (the
    spec's objects are open, so the schema check alone lets them through)."""
    known = set(_discord_document()["components"]["schemas"][name].get("properties", {}))
    items = instance if array else [instance]
    return sorted(
        {f"{key}: not in {name}" for item in items if isinstance(item, dict) for key in item if key not in known}
    )


def slack_errors(method: str, instance: Any) -> list[str]:
    """Every way a Web API answer differs from the method's success or error schema; empty when it fits."""
    from jsonschema import Draft4Validator

    kind = "ok" if instance.get("ok") else "error"
    schema = _slack_document() | {"$ref": f"#/methods/{method}/{kind}"}
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in Draft4Validator(schema).iter_errors(instance)
    ]
