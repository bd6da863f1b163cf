"""What a learner installs: every package folder in the wheel, the chapters inside it, one version."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import d2lconv
from d2lconv._version import __version__
from d2lconv.runner.chapters import ChapterError, copy_chapters, list_chapters, shipped_chapters_dir

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_in_the_wheel():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    code = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "d2lconv").rglob("*.py")
            if "__pycache__" not in p.parts}
    assert sorted(code - listed) == [], "folders of d2lconv's code missing from [tool.setuptools] packages"
    assert "d2lconv.chapters" in listed
    assert PYPROJECT["tool"]["setuptools"]["package-dir"]["d2lconv.chapters"] == "chapters"


def test_the_chapters_ship_with_the_package():
    shipped = shipped_chapters_dir()
    assert shipped.resolve() == (ROOT / "chapters").resolve()  # in a checkout: its chapters/ folder
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["d2lconv.chapters"]
    packaged = {p.name for pattern in patterns for p in shipped.glob(pattern)}
    assert {p.name for p in list_chapters(shipped)} == packaged  # every chapter matches a packaged pattern
    assert len(packaged) >= 4


def test_one_version():
    assert d2lconv.__version__ == __version__
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "d2lconv._version.__version__"}
    release = re.match(r"\d+\.\d+\.\d+", __version__).group(0)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## {re.escape(release)}\b", changelog, re.M), f"CHANGELOG.md has no entry for {release}"
    out = subprocess.run([sys.executable, "-m", "d2lconv.cli", "--version"], capture_output=True, text=True,
                         timeout=120, env={"PATH": "", "D2LCONV_BACKEND": ""})
    assert out.stdout.strip() == f"d2lconv {__version__}", out.stderr


def test_metadata_names_license_and_python_versions():
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0" and (ROOT / "LICENSE").is_file()
    prefix = "Programming Language :: Python :: 3."
    versions = {c.rsplit(" ", 1)[-1] for c in project["classifiers"] if c.startswith(prefix)}
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in versions  # the Python these tests run on


def test_copying_the_chapters_never_overwrites(tmp_path):
    mine = tmp_path / "mine"
    copied, kept = copy_chapters(mine)
    assert {p.name for p in copied} == {p.name for p in list_chapters(shipped_chapters_dir())} and kept == []
    (mine / copied[0].name).write_text("my own edits", encoding="utf-8")
    again, kept = copy_chapters(mine)
    assert again == [] and {p.name for p in kept} == {p.name for p in copied}
    assert (mine / copied[0].name).read_text(encoding="utf-8") == "my own edits"
    with pytest.raises(ChapterError, match="is the folder the chapters are read from"):
        copy_chapters(shipped_chapters_dir(), shipped_chapters_dir())


def test_d2lconv_chapters_lists_and_copies(tmp_path):
    cli = [sys.executable, "-m", "d2lconv.cli", "chapters"]
    env = {"PATH": "", "D2LCONV_BACKEND": "", "D2LCONV_CHAPTERS": ""}
    listing = subprocess.run(cli, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "convolutions-for-images  Convolutions for Images" in listing.stdout
    copied = subprocess.run([*cli, "--copy", "mine"], capture_output=True, text=True, timeout=120, env=env,
                            cwd=tmp_path)
    count = len(list_chapters(shipped_chapters_dir()))
    assert copied.returncode == 0 and f"copied {count} chapters" in copied.stdout, copied.stderr
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == sorted(
        p.name for p in list_chapters(shipped_chapters_dir()))
