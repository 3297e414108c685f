"""pyproject.toml: metadata setuptools accepts without deprecation warnings."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_license_is_an_spdx_expression_and_the_backend_understands_it() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"  # PEP 639: a string, not the deprecated {text = …} table
    requires = project["build-system"]["requires"]
    assert "setuptools>=77" in requires  # the first setuptools that reads SPDX license strings
