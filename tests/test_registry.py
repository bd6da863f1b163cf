"""One list of public names (``d2lconv/registry.py``): what ``d2lconv`` offers, what the pinned
namespaces wrap and what README's API table lists all come from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import d2lconv
from d2lconv.backend import PUBLIC_NAMES
from d2lconv.registry import PUBLIC, public

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_api_names(text: str) -> set[str]:
    """The names in the first column of README's table under '## The API': ``d2l.tensor``,
    ``Conv2D(kernel_size, ...)`` and ``d2l.kernels.*`` give tensor, Conv2D and kernels."""
    section = text.split("\n## The API\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        first = row.split(" | ")[0]
        for span in re.findall(r"`([^`]+)`", first):
            match = re.match(r"(?:d2l\.)?([A-Za-z_]\w*)", span)
            if match:
                names.add(match.group(1))
    return names


def test_readme_api_table_lists_exactly_the_registered_names():
    listed = readme_api_names(README.read_text(encoding="utf-8"))
    offered = set(PUBLIC) | set(PUBLIC_NAMES)
    assert sorted(offered - listed) == [], "public names README's API table does not list"
    assert sorted(listed - offered) == [], "names README's API table lists that d2lconv does not offer"


def test_the_table_parser_sees_what_it_should():
    rows = ("\n## The API\n\n| name | what |\n|---|---|\n| `d2l.tensor`, `zeros` | make |\n"
            "| `Conv2D(kernel_size, bias=True)` | layer |\n| `d2l.kernels.*` | kernels |\n\n## Next\n| `x` | y |\n")
    assert readme_api_names(rows) == {"tensor", "zeros", "Conv2D", "kernels"}


def test_every_registered_name_is_an_attribute_exported_and_pinned():
    assert sorted(d2lconv.__all__) == sorted(PUBLIC)
    pinned = d2lconv.numpy
    for name, value in PUBLIC.items():
        assert getattr(d2lconv, name) is value, name
        assert hasattr(pinned, name), name


def test_a_name_registered_where_it_is_defined_reaches_d2l(tmp_path):
    """Adding a shared function is writing it and registering it, in a new module even: nothing
    else to edit (a copy of the package with one more file in cnn/)."""
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "d2lconv"
    shutil.copytree(Path(d2lconv.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "cnn" / "extra.py").write_text(
        "from ..backend import ops\nfrom ..registry import public\n\n\n"
        "@public\ndef doubled(x):\n    return ops().reshape(x * 2, (-1,))\n")
    script = ("import d2lconv as d2l\n"
              "print(d2l.numpy(d2l.doubled(d2l.ones((1,))))[0], 'doubled' in d2l.__all__,\n"
              "      d2l.numpy.doubled(d2l.numpy.ones((1,)))[0])\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={"PATH": "", "D2LCONV_BACKEND": "", "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2.0", "True", "2.0"]


def test_registering_a_taken_or_private_name_is_refused():
    with pytest.raises(ValueError, match="already"):
        public(object(), "corr2d")
    with pytest.raises(ValueError, match="not a public Python name"):
        public(object(), "_hidden")
