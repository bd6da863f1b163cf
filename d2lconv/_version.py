"""d2lconv's version, in one place: the package metadata (pyproject.toml reads it), ``d2lconv.__version__``
and ``d2lconv --version`` all come from here. Imports nothing, so the CLI can read it cheaply."""

__version__ = "0.2.0.dev0"
