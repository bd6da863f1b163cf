"""Chapter parameters, papermill's convention: run a chapter with other values than its own.

A chapter may have ONE code cell tagged ``parameters`` (MyST: ``:tags: [parameters]``) holding
plain assignments, ``max_epochs = 10``. Running it with parameters (``d2lconv run lenet -p
max_epochs=1``) inserts right after that cell a new code cell tagged ``injected-parameters``
that assigns the given values - in the notebook being executed; the chapter file is never
changed. A value is a Python literal (``ast.literal_eval``), else the text itself as a string.

A chapter's front matter may name a short configuration for tests::

    d2lconv:
      test-parameters: {max_epochs: 1}

which ``--test-parameters`` applies (values given with ``-p`` win). Each run records the values
it injected (``parameters``, each as the Python literal the injected cell assigns) and the
chapter's own test configuration (``test_parameters``), so a build shows what ran and whether
it was the test configuration; runs made with different parameters are never compared.
"""

from __future__ import annotations

import ast
import keyword
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .chapters import ChapterError

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
#: the chapter's front matter key (under ``d2lconv:``) of its short test configuration
TEST_PARAMETERS_KEY = "test-parameters"
#: the executed notebook's metadata key (under ``d2lconv``) of the values injected into it
INJECTED_METADATA_KEY = "injected-parameters"


class ParameterError(ChapterError):
    """Parameters that cannot be applied to a chapter; the message says which and why."""


def is_name(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


def parse_value(text: str) -> Any:
    """``-p`` values: a Python literal (``1``, ``0.1``, ``'adam'``, ``[3, 3]``, ``None``), else the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def split_assignment(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` -> (NAME, VALUE text); a malformed one is a ParameterError."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals:
        raise ParameterError(f"{text!r}: give NAME=VALUE (or NAME VALUE), e.g. -p max_epochs=1")
    if not is_name(name):
        raise ParameterError(f"{text!r}: {name!r} is not a Python name; give NAME=VALUE, e.g. -p max_epochs=1")
    return name, value


def collect(assignments: Iterable[str]) -> dict[str, Any]:
    """The ``-p NAME=VALUE`` texts as {name: value}; a name given twice is an error."""
    values: dict[str, Any] = {}
    for text in assignments:
        name, value = split_assignment(text)
        if name in values:
            raise ParameterError(f"-p {name} is given twice; give each parameter once")
        values[name] = parse_value(value)
    return values


def literal(value: Any) -> str:
    """The Python literal the injected cell assigns: ``repr``, which must read back as the value."""
    text = repr(value)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        same = False
    if not same:
        raise ParameterError(f"{value!r} ({type(value).__name__}) is not a Python literal a cell can assign")
    return text


def recorded(values: Mapping[str, Any]) -> dict[str, str]:
    """``{name: literal}``: what a run records of the values injected into it."""
    return {name: literal(value) for name, value in values.items()}


def describe(parameters: Mapping[str, str] | None) -> str:
    """``max_epochs=1, lr=0.5`` for recorded parameters; for none, the chapter's own values."""
    if not parameters:
        return "the chapter's own values"
    return ", ".join(f"{name}={value}" for name, value in parameters.items())


def _assigned_names(source: str) -> list[str]:
    tree = ast.parse(source)
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id not in names:
                names.append(target.id)
    return names


def parameters_cell(nb, chapter: str) -> tuple[int, list[str]] | None:
    """(index of the cell tagged ``parameters``, the names it assigns), or None when there is none."""
    tagged = [i for i, c in enumerate(nb.cells)
              if c.cell_type == "code" and PARAMETERS_TAG in (c.get("metadata", {}).get("tags") or [])]
    if not tagged:
        return None
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    if len(tagged) > 1:
        where = ", ".join(str(code.index(i) + 1) for i in tagged)
        raise ParameterError(f"chapter {chapter!r} has {len(tagged)} cells tagged {PARAMETERS_TAG!r} (code cells "
                             f"{where}); a chapter has at most one")
    index = tagged[0]
    try:
        names = _assigned_names(nb.cells[index].source)
    except SyntaxError as exc:
        raise ParameterError(f"chapter {chapter!r}: its parameters cell (code cell {code.index(index) + 1}) is not "
                             f"plain Python assignments: {exc.msg} (line {exc.lineno})") from None
    return index, names


def declared(nb, chapter: str) -> list[str] | None:
    """The names the chapter's parameters cell assigns, or None when it has no parameters cell."""
    cell = parameters_cell(nb, chapter)
    return None if cell is None else cell[1]


def declared_names(names: list[str] | None) -> str:
    return ("no parameters cell" if names is None else
            f"its parameters cell assigns {', '.join(names)}" if names else "its parameters cell assigns nothing")


def chapter_test_parameters(nb, chapter: str) -> dict[str, Any]:
    """The chapter's short test configuration (front matter ``d2lconv: test-parameters:``), checked
    against its parameters cell; {} when it declares none."""
    given = ((nb.metadata or {}).get("d2lconv") or {}).get(TEST_PARAMETERS_KEY)
    if given is None:
        return {}
    where = f"chapter {chapter!r}: its front matter's d2lconv: {TEST_PARAMETERS_KEY}"
    if not isinstance(given, Mapping):
        raise ParameterError(f"{where} must be a mapping ({{max_epochs: 1}}), not {given!r}")
    names = declared(nb, chapter)
    unknown = [str(k) for k in given if k not in (names or [])]
    if unknown:
        raise ParameterError(f"{where} sets {', '.join(unknown)}, which the chapter does not declare "
                             f"({declared_names(names)})")
    values = dict(given)
    try:
        recorded(values)  # every value must be a literal a cell can assign
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    return values


def resolve(nb, chapter: str, given: Mapping[str, Any] | None = None,
            use_test_parameters: bool = False) -> dict[str, Any]:
    """The values to inject into ``nb``: the chapter's test parameters (with ``use_test_parameters``),
    then ``given`` over them, in the parameters cell's order. Names the cell does not assign are an error."""
    given = dict(given or {})
    names = declared(nb, chapter)
    if given and names is None:
        raise ParameterError(f"chapter {chapter!r} has no parameters cell (a code cell tagged {PARAMETERS_TAG!r}), "
                             f"so -p cannot set {', '.join(given)}")
    unknown = [n for n in given if n not in (names or [])]
    if unknown:
        raise ParameterError(f"chapter {chapter!r} has no parameter {', '.join(map(repr, unknown))}: "
                             f"{declared_names(names)}")
    test = chapter_test_parameters(nb, chapter)  # checked on every run, used with use_test_parameters
    values = {**(test if use_test_parameters else {}), **given}
    return {n: values[n] for n in (names or []) if n in values}


def inject(nb, values: Mapping[str, Any], chapter: str) -> int | None:
    """Insert the ``injected-parameters`` cell assigning ``values`` right after the parameters cell
    (replacing one already there, as papermill does) and note them in the notebook's metadata;
    its index, or None when there is nothing to inject. Changes ``nb`` only, never a file."""
    if not values:
        return None
    import nbformat

    lines = recorded(values)
    source = "# Parameters\n" + "\n".join(f"{name} = {text}" for name, text in lines.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    if (nb.nbformat, nb.nbformat_minor) >= (4, 5):
        cell["id"] = INJECTED_TAG  # fixed, so every run of a chapter has the same cells
    else:
        cell.pop("id", None)  # cell ids exist from nbformat 4.5 on
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in (c.get("metadata", {}).get("tags") or [])]
    found = parameters_cell(nb, chapter)
    if found is None:
        raise ParameterError(f"chapter {chapter!r} has no parameters cell (a code cell tagged {PARAMETERS_TAG!r}) "
                             f"to inject {', '.join(values)} after")
    nb.cells.insert(found[0] + 1, cell)
    nb.metadata.setdefault("d2lconv", {})[INJECTED_METADATA_KEY] = lines
    return found[0] + 1


def plan(chapters: list[Path], given: Mapping[str, Any] | None, use_test_parameters: bool,
         read) -> dict[str, dict[str, Any]]:
    """For a matrix: each chapter's values to inject (by stem). A ``given`` value applies to every
    chapter whose parameters cell assigns its name; a name no chapter assigns is an error."""
    given = dict(given or {})
    if not given and not use_test_parameters:  # every chapter with its own values: nothing to read
        return {path.stem: {} for path in chapters}
    values, names = {}, {}
    for path in chapters:
        try:
            nb = read(path)
        except Exception as exc:  # noqa: BLE001 - a chapter jupytext cannot read: name it
            raise ParameterError(f"cannot read chapter {str(path)!r} to apply its parameters: "
                                 f"{type(exc).__name__}: {exc}") from exc
        names[path.stem] = declared(nb, path.stem)
        mine = {n: v for n, v in given.items() if n in (names[path.stem] or [])}
        values[path.stem] = resolve(nb, path.stem, mine, use_test_parameters)
    unknown = [n for n in given if not any(n in (d or []) for d in names.values())]
    if unknown:
        listed = "; ".join(f"{c}: {declared_names(d)}" for c, d in names.items())
        raise ParameterError(f"no chapter of this run has a parameter {', '.join(map(repr, unknown))} ({listed})")
    return values


def conflicts(runs: Iterable[dict[str, Any]], label) -> list[str]:
    """For every chapter whose successful runs were made with different parameters, a sentence
    naming the runs and their parameters (``label(run)`` names a run)."""
    groups: dict[str, dict[tuple, list[str]]] = {}
    for run in runs:
        if run.get("status") == "ok":
            params = run.get("parameters") or {}
            groups.setdefault(run["chapter"], {}).setdefault(tuple(sorted(params.items())), []).append(label(run))
    found = []
    for chapter, by_params in sorted(groups.items()):
        if len(by_params) > 1:
            parts = [f"{', '.join(who)} with {describe(dict(params))}" for params, who in by_params.items()]
            found.append(f"chapter {chapter!r} was run with different parameters: {'; '.join(parts)}")
    return found
