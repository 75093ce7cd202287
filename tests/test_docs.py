"""Packaging basics and the API reference build."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import jaxact

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_single_sourced():
    assert re.fullmatch(r"\d+\.\d+\.\d+", jaxact.__version__)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "jaxact.__version__"}
    # the installed metadata (pip install -e .) carries the same version
    assert importlib.metadata.version("jaxact") == jaxact.__version__


def test_changelog_has_an_entry_for_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(jaxact.__version__)}\]", changelog, re.MULTILINE)


def test_license_and_typing_marker_ship_with_the_package():
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    assert (Path(jaxact.__file__).parent / "py.typed").is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == {"text": "Apache-2.0"}
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["jaxact"]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("sphinx") is None, reason="needs the docs extra")
def test_api_reference_builds(tmp_path):
    """The README's docs command: Sphinx autodoc over the docstrings, warnings as errors."""
    out = tmp_path / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    result = subprocess.run(
        [*cmd, str(ROOT / "docs" / "api"), str(out)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    page = (out / "activations.html").read_text(encoding="utf-8")
    for name in ("jaxact.get", "jaxact.rrelu", "jaxact.softmax", "jaxact.glu"):
        assert name in page, name
    assert "jaxact.linen.PReLU" in (out / "modules.html").read_text(encoding="utf-8")
