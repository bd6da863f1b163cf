"""The ``d2lconv`` command: ``info``, ``run`` a chapter, run the ``matrix`` of chapters x backends."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence

from ._version import __version__
from .backend import (
    BACKENDS,
    ENV_VAR,
    FRAMEWORKS,
    available_backends,
    env_backend_name,
    framework_version,
    install_hint,
)


def _info(args: argparse.Namespace) -> int:
    installed = set(available_backends())
    raw = os.environ.get(ENV_VAR, "")
    try:
        selected = env_backend_name()
        problem = None
    except ValueError as exc:
        selected, problem = None, str(exc)
    rows = [{
        "backend": name,
        "framework": FRAMEWORKS[name].module,
        "installed": name in installed,
        "version": framework_version(name) if name in installed else None,
        "selected": name == selected,
        "install": install_hint(name),
    } for name in BACKENDS]
    if args.json:
        print(json.dumps({"d2lconv": __version__, "env": {ENV_VAR: raw}, "selected": selected,
                          "backends": rows}, indent=2))
    else:
        print(f"d2lconv {__version__}   {ENV_VAR}={raw!r} -> selected backend: {selected or '(invalid)'}")
        print(f"{'backend':<12}{'installed':<11}{'version':<14}{'selected':<10}install with")
        for r in rows:
            print(f"{r['backend']:<12}{'yes' if r['installed'] else 'no':<11}{r['version'] or '-':<14}"
                  f"{'*' if r['selected'] else '':<10}{r['install']}")
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return 0


class Parser(argparse.ArgumentParser):
    """argparse without prefix matching (``allow_abbrev=False``): ``--chapters`` is an unknown option,
    not ``--chapters-dir``. ``add_subparsers`` makes its subcommands' parsers of this class too.

    ``name_value_options`` (``("-p", "--parameter")``) take ``NAME=VALUE`` and also papermill's
    two words ``NAME VALUE``, which are joined into ``NAME=VALUE`` before parsing. That is
    unambiguous: a name is a Python identifier, so the word after the option is ``NAME=VALUE``
    when it holds a ``=`` and a bare ``NAME`` (its value the next word) when it does not.
    """

    def __init__(self, *args, allow_abbrev: bool = False, name_value_options: Sequence[str] = (),
                 **kwargs) -> None:
        super().__init__(*args, allow_abbrev=allow_abbrev, **kwargs)
        self.name_value_options = tuple(name_value_options)

    def parse_known_args(self, args=None, namespace=None):
        if self.name_value_options:
            args = join_name_value(list(sys.argv[1:] if args is None else args), self.name_value_options,
                                   set(self._option_string_actions))
        return super().parse_known_args(args, namespace)


def join_name_value(args: list[str], options: Sequence[str], known: set[str]) -> list[str]:
    """``-p NAME VALUE`` -> ``-p NAME=VALUE`` (also ``--parameter=NAME VALUE``); anything else as it is.

    The next word is taken as the value unless it is an option of this command or starts with
    ``--``, so ``-p lr -0.5`` works and ``-p lr --backend numpy`` stays an error (no value).
    Nothing after a bare ``--`` is touched."""
    out, i = [], 0
    while i < len(args):
        word = args[i]
        if word == "--":
            return out + args[i:]
        option, attached, name = word.partition("=")
        if word in options and i + 1 < len(args) and "=" not in args[i + 1]:
            option, name, value_at = word, args[i + 1], i + 2  # -p NAME VALUE
        elif attached and option in options and option.startswith("--") and "=" not in name:
            value_at = i + 1  # --parameter=NAME VALUE
        else:
            value_at = None
        if value_at is not None and value_at < len(args):
            value = args[value_at]
            if value not in known and not value.startswith("--"):
                out += [option, f"{name}={value}"]
                i = value_at + 1
                continue
        out.append(word)
        i += 1
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="d2lconv",
        description=f"Run d2l's chapter on convolutions on any of {', '.join(BACKENDS)}, from one source.")
    parser.add_argument("--version", action="version", version=f"d2lconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    info = sub.add_parser("info", help="backends known, installed, their versions, the one selected",
                          description="Show every backend d2lconv knows, whether its framework is "
                                      "installed (found without importing it), its version, which "
                                      f"one {ENV_VAR} selects, and the command that installs it.")
    info.add_argument("--json", action="store_true", help="print machine-readable JSON")
    info.set_defaults(func=_info)

    from .runner import cli as runner_cli  # the chapter runner's subcommands live beside it
    runner_cli.add_commands(sub)
    return parser


def _terminate_as_interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "lab" in argv and "--" in argv[argv.index("lab"):]:  # the rest goes to JupyterLab (lab -- --port 1)
        cut = argv.index("--", argv.index("lab"))
        argv, passthrough = argv[:cut], argv[cut + 1:]
    parser = build_parser()
    args = parser.parse_args(argv)
    if passthrough and not getattr(args, "takes_passthrough", False):
        parser.error(f"'{args.command}' takes no arguments after --, got {' '.join(passthrough)}")
    args.passthrough = passthrough
    previous = None
    if threading.current_thread() is threading.main_thread():
        # the matrix stops its runs with SIGTERM: clean up (kernel, temp files) as on Ctrl-C
        previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `d2lconv info | head -1`: the reader left; no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is quiet too
        return 1  # what was asked was not all written (Python's documented convention)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
