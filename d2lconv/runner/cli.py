"""The ``run``, ``matrix``, ``compare`` and ``lab`` subcommands of ``d2lconv``."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import textwrap
from pathlib import Path

from ..backend import BACKENDS, ENV_VAR, available_backends, canonical_name, env_backend_name
from ..install import pip_install


def _backend_list(text: str) -> list[str]:
    try:
        names = [canonical_name(n) for n in text.split(",") if n.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not names:
        raise argparse.ArgumentTypeError("give at least one backend name")
    return list(dict.fromkeys(names))


def _backend_name(text: str) -> str:
    try:
        return canonical_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parameter(text: str) -> str:
    """``-p NAME=VALUE`` (``-p NAME VALUE`` is joined into it by the parser): checked, kept as text."""
    from .parameters import ParameterError, split_assignment

    try:
        split_assignment(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _parameters(args: argparse.Namespace) -> dict:
    """The ``-p`` values as {name: value} (Python literals, else strings)."""
    from .parameters import collect

    return collect(args.parameters or [])


def _missing_chapter_tools() -> str | None:
    """The error to show when the ``chapters`` extra (Jupyter kernel, nbclient, ...) is missing."""
    for module in ("nbclient", "nbconvert", "nbformat", "jupytext", "ipykernel", "matplotlib", "tqdm"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return (f"running chapters needs {module!r}, which is not installed; "
                    f"install the chapter tools with: {pip_install('chapters')}")
    return None


def _usage_error(command: str, problem: object) -> int:
    """Print ``d2lconv COMMAND: error: PROBLEM`` to stderr; return exit code 2."""
    print(f"d2lconv {command}: error: {problem}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    from .chapters import ChapterError, run_chapter
    from .parameters import describe

    problem = _missing_chapter_tools()
    if problem:
        return _usage_error("run", problem)

    try:
        backend = args.backend or env_backend_name()
        result = run_chapter(args.chapter, backend, Path(args.build_dir), timeout=args.timeout,
                             chapters_dir=args.chapters_dir, verbose=args.verbose,
                             parameters=_parameters(args), test_parameters=args.test_parameters)
    except (ChapterError, ValueError) as exc:
        return _usage_error("run", exc)
    if args.json:
        print(json.dumps(result.to_json()))
    elif result.status == "ok":
        print(f"{result.chapter} on {backend}: ok in {result.seconds:.1f}s\n  notebook: {result.notebook}"
              f"\n  html:     {result.html}\n  results:  {result.results}")
        if result.parameters:
            print(f"  parameters: {describe(result.parameters)}")
    else:
        print(f"d2lconv run: {result.error}", file=sys.stderr)
        if result.notebook:
            print(f"  the executed notebook, up to the error: {result.notebook}", file=sys.stderr)
    return 0 if result.status == "ok" else 1


def _matrix(args: argparse.Namespace) -> int:
    from .chapters import ChapterError, check_build_dir, select_chapters
    from .matrix import Matrix, format_table

    problem = _missing_chapter_tools()
    if problem:
        return _usage_error("matrix", problem)

    try:
        chapters = select_chapters(args.chapters, args.chapters_dir)
        check_build_dir(Path(args.build_dir))
    except ChapterError as exc:
        return _usage_error("matrix", exc)
    backends = args.backends or available_backends()
    options = dict(jobs=args.jobs, timeout=args.timeout, progress=not args.no_progress, label=args.label,
                   verbose=args.verbose, test_parameters=args.test_parameters)
    if args.scheduler and importlib.util.find_spec("distributed") is None:
        return _usage_error("matrix", "--scheduler needs Dask distributed, which is not installed; "
                                      f"install it with: {pip_install('dask')}")
    try:
        options["parameters"] = _parameters(args)
        if args.scheduler:
            from .distributed import DaskMatrix

            matrix = DaskMatrix(chapters, backends, Path(args.build_dir), scheduler=args.scheduler, **options)
        else:
            matrix = Matrix(chapters, backends, Path(args.build_dir), **options)
    except ChapterError as exc:  # the parameters do not fit the chapters
        return _usage_error("matrix", exc)
    try:
        report = matrix.run()
    except (ConnectionError, TimeoutError) as exc:
        return _usage_error("matrix", exc)
    except KeyboardInterrupt:
        where = f"the runs that finished are in {matrix.summary_path}" if matrix.saved else "no run had finished"
        print(f"\ninterrupted: {where}", file=sys.stderr)
        return 130
    print(format_table(report, backends))
    kept = [f"{r['backend']}/{r['chapter']}" for r in report.runs if r.get("earlier")]
    if kept:
        print(f"kept from the earlier matrix in {args.build_dir} (same environment, not rerun): {', '.join(kept)}")
    print(f"summary: {matrix.summary_path}")
    return 0 if report.ok else 1


def _compare(args: argparse.Namespace) -> int:
    from .merged import BuildError, merge_builds

    try:
        report = merge_builds([Path(d) for d in args.build_dirs], args.labels)
    except BuildError as exc:
        return _usage_error("compare", exc)
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(report.format())
        print("all runs agree" if report.ok else "NOT all runs agree: see above")
    return 0 if report.ok else 1


def _lab(args: argparse.Namespace) -> int:
    from .chapters import ChapterError
    from .lab import launch, missing_lab_tools

    problem = missing_lab_tools()
    if problem:
        return _usage_error("lab", problem)
    try:
        return launch(args.chapter, args.backend or env_backend_name(), Path(args.workdir), args.chapters_dir,
                      args.passthrough)
    except (ChapterError, ValueError) as exc:
        return _usage_error("lab", exc)


def _chapters(args: argparse.Namespace) -> int:
    from .chapters import ChapterError, chapter_title, copy_chapters, default_chapters_dir, list_chapters

    folder = args.chapters_dir or default_chapters_dir()
    if args.copy is None:
        chapters = list_chapters(folder)
        if not chapters:
            return _usage_error("chapters", f"no chapters in {folder}")
        width = max(len(p.stem) for p in chapters) + 2
        for path in chapters:
            print(f"{path.stem:<{width}}{chapter_title(path)}")
        print(f"({len(chapters)} chapters in {folder}; `d2lconv chapters --copy DIR` copies them to edit)")
        return 0
    try:
        copied, kept = copy_chapters(Path(args.copy), folder)
    except ChapterError as exc:
        return _usage_error("chapters", exc)
    print(f"copied {len(copied)} chapters from {folder} to {args.copy}")
    if kept:
        print(f"kept {len(kept)} files already there (never overwritten): {', '.join(p.name for p in kept)}")
    example = (copied + kept)[0].stem
    print(f"run your copies with --chapters-dir (or D2LCONV_CHAPTERS={args.copy}): "
          f"d2lconv run {example} --chapters-dir {args.copy}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from ..site.build import SiteError, build_site

    try:
        site = build_site(Path(args.build_dir), quiet=not args.verbose)
    except SiteError as exc:
        return _usage_error("build", exc)
    print(f"the book ({len(site.chapters)} chapters) in {site.seconds:.1f}s: {site.html / 'index.html'}")
    return 0


#: the options taking NAME=VALUE or NAME VALUE (see d2lconv.cli.Parser)
PARAMETER_OPTIONS = ("-p", "--parameter")


class _Help(argparse.HelpFormatter):
    """argparse's help, with lines never broken inside an option (``--test-`` / ``parameters``)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add run, matrix, compare, build, chapters and lab to the ``d2lconv`` command's subcommands."""
    # the subcommands' parsers come from `sub` (d2lconv.cli.Parser: no prefix matching); these shared
    # options are copied into them, and are no prefixes either
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    common.add_argument("--build-dir", default="build", metavar="DIR",
                        help="where executed notebooks, HTML pages and results go (default: build)")
    common.add_argument("--chapters-dir", type=Path, default=None, metavar="DIR",
                        help="where short chapter names are looked up (default: ./chapters)")
    common.add_argument("--timeout", type=int, default=900, metavar="SECONDS",
                        help="the longest one cell may run (default: 900)")
    common.add_argument("--verbose", "-v", action="store_true",
                        help="keep the frameworks' log lines (XLA start-up, ...) in the pages and show the "
                             "kernel's own output; errors are shown either way")
    # chapter parameters (papermill's convention): the chapter's one code cell tagged `parameters`
    params = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    params.add_argument("-p", "--parameter", dest="parameters", action="append", type=_parameter, default=None,
                        metavar="NAME=VALUE",
                        help="run the chapter with NAME set to VALUE (also -p NAME VALUE; repeatable): a cell "
                             "assigning it is inserted after the chapter's code cell tagged 'parameters', which "
                             "must assign NAME; the chapter file is not changed. VALUE is a Python literal "
                             "(1, 0.5, 'adam', [3, 3], None), else taken as a string")
    params.add_argument("--test-parameters", action="store_true",
                        help="apply the chapter's short test configuration (its front matter's "
                             "d2lconv: test-parameters: {max_epochs: 1}); -p values win over it")

    run = sub.add_parser(
        "run", parents=[common, params], name_value_options=PARAMETER_OPTIONS, formatter_class=_Help,
        help="execute one chapter on one backend in a Jupyter kernel",
        description="Execute CHAPTER in a fresh Jupyter kernel on one backend and write "
                    "BUILD/BACKEND/CHAPTER.ipynb and .html (with figures) and .results.json. "
                    "The chapter itself is never modified. A failing cell stops the run with the "
                    "chapter, cell, backend and error, exit code 1, and CHAPTER.failed.* outputs. "
                    "With -p NAME=VALUE the chapter runs with other values for the names its "
                    "parameters cell assigns; the run records them.",
        epilog="example: d2lconv run lenet -p max_epochs=1   (the same: -p max_epochs 1; "
               "lenet's short test configuration: d2lconv run lenet --test-parameters)")
    run.add_argument("chapter", metavar="CHAPTER", help="a path, or a chapter's (short) name")
    run.add_argument("--backend", "-b", type=_backend_name, default=None,
                     help=f"one of {', '.join(BACKENDS)} (default: ${ENV_VAR}, else numpy)")
    run.add_argument("--json", action="store_true", help="print the run's result as one JSON line")
    run.set_defaults(func=_run)

    matrix = sub.add_parser(
        "matrix", parents=[common, params], name_value_options=PARAMETER_OPTIONS, formatter_class=_Help,
        help="run chapters on every installed backend and compare them",
        description="Run each CHAPTER (default: all) on each backend (default: every installed one), "
                    "each in its own process, -j at a time, with a progress bar. Ends with a table "
                    "backend x chapter (status, time, agreement) and writes BUILD/matrix.json. "
                    "One failure does not stop the others. The backends must agree on the numbers "
                    "each chapter records (d2l.record) within float32 tolerance. -p NAME=VALUE applies "
                    "to every chapter whose parameters cell assigns NAME (a NAME no chapter of the run "
                    "assigns is an error); --test-parameters runs each chapter's own short test "
                    "configuration, as the test suite does.",
        epilog="example: d2lconv matrix lenet -p max_epochs=1; d2lconv matrix --test-parameters")
    matrix.add_argument("chapters", nargs="*", metavar="CHAPTER")
    matrix.add_argument("--backends", type=_backend_list, default=None, metavar="B1,B2",
                        help="comma-separated backends (default: every installed one)")
    matrix.add_argument("-j", "--jobs", type=int, default=2, help="runs at once (default: 2)")
    matrix.add_argument("--no-progress", action="store_true", help="no progress bar")
    matrix.add_argument("--label", default=None, metavar="NAME",
                        help="name of this environment in `d2lconv compare` tables (default: 'numpy X.Y.Z')")
    matrix.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="send each run to the Dask cluster at ADDRESS (tcp://host:8786), or 'local' "
                             "for a local cluster of -j workers; results come back into --build-dir "
                             '(needs pip install "d2lconv[dask]")')
    matrix.set_defaults(func=_matrix)

    compare = sub.add_parser(
        "compare", help="merge the matrices of several environments into one agreement table",
        description="Read BUILD_DIR/matrix.json (made by `d2lconv matrix --build-dir BUILD_DIR`, in any "
                    "environment or on any machine) for each BUILD_DIR and print one table: backend @ "
                    "environment x chapter, every run compared with numpy in the first environment "
                    "within float32 tolerance. Exit 1 if a run failed, disagrees, or a chapter was run "
                    "from different sources; exit 2 if a directory holds no matrix, or a chapter's runs were "
                    "made with different parameters (-p, --test-parameters): those are never compared.")
    compare.add_argument("build_dirs", nargs="+", metavar="BUILD_DIR")
    compare.add_argument("--label", dest="labels", action="append", default=None, metavar="NAME",
                         help="name the environments, once per BUILD_DIR in order "
                              "(default: what each matrix recorded with --label)")
    compare.add_argument("--json", action="store_true", help="print the merged report as JSON")
    compare.set_defaults(func=_compare)

    build = sub.add_parser(
        "build", help="turn the chapter runs in BUILD into a book site with per-backend output tabs",
        description="Make BUILD/site/html: an index (chapters x backends, status and agreement) and one page "
                    "per chapter with its code once and, under each code cell, every backend's outputs in "
                    "tabs (the choice is kept across cells and pages). Math renders offline (MathJax is "
                    "served from the site). Reads BUILD/BACKEND/CHAPTER.ipynb as `d2lconv matrix` leaves "
                    f"them; writes only BUILD/site, atomically. Needs {pip_install('site')}.")
    build.add_argument("--build-dir", default="build", metavar="DIR",
                       help="the build directory of `d2lconv matrix` (default: build)")
    build.add_argument("--verbose", "-v", action="store_true", help="show Sphinx's messages")
    build.set_defaults(func=_build)

    chapters = sub.add_parser(
        "chapters", help="list the chapters, or copy them somewhere to edit them",
        description="List the chapters short names resolve to ($D2LCONV_CHAPTERS, else ./chapters, else the "
                    "ones that come with d2lconv), or with --copy DIR copy them into DIR to edit them. A file "
                    "already in DIR is never overwritten; the installed chapters are never written to.")
    chapters.add_argument("--copy", default=None, metavar="DIR", help="copy the chapters into DIR")
    chapters.add_argument("--chapters-dir", type=Path, default=None, metavar="DIR",
                          help="list or copy the chapters of DIR instead")
    chapters.set_defaults(func=_chapters)

    lab = sub.add_parser(
        "lab", help="open a chapter as a notebook in JupyterLab on a chosen backend",
        description="Convert CHAPTER (default: every chapter) into a notebook in --workdir and start "
                    "JupyterLab there with the kernel on --backend. Your copies are never overwritten "
                    "(delete one to start afresh), and chapters/ is never written to. Arguments after "
                    f"-- go to JupyterLab (e.g. -- --no-browser --port 8899). Needs {pip_install('notebook')}.")
    lab.add_argument("chapter", nargs="?", default=None, metavar="CHAPTER",
                     help="a path, or a chapter's (short) name")
    lab.add_argument("--backend", "-b", type=_backend_name, default=None,
                     help=f"one of {', '.join(BACKENDS)} (default: ${ENV_VAR}, else numpy)")
    lab.add_argument("--workdir", default=str(Path("build") / "lab"), metavar="DIR",
                     help="where the notebook copies live (default: build/lab)")
    lab.add_argument("--chapters-dir", type=Path, default=None, metavar="DIR",
                     help="where short chapter names are looked up (default: ./chapters)")
    lab.set_defaults(func=_lab, takes_passthrough=True)
