"""The test matrix: `nox` builds every environment from this repository's own files and runs
the tests in each. `nox -l` lists the sessions; `nox -s tests-all` runs one.

- tests-all:     numpy, torch, tensorflow and mxnet in ONE environment (numpy 1.23, MXNet's
                 line) - the cross-backend agreement tests and the chapter matrix need this.
- tests-current: numpy, torch and tensorflow on current releases (numpy 2.x, TensorFlow >= 2.18).
- tests-numpy:   the default install: no deep-learning framework at all.
- lint:          ruff.

Each session makes every backend it lists required, so none of them can be skipped silently.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests-numpy", "tests-all", "tests-current"]

ENVIRONMENTS = {
    # name: (extras, constraints file, backends it must test)
    "all": ("all,dev", "constraints/all-backends.txt", "numpy,torch,tensorflow,mxnet,jax"),
    "current": ("torch,tensorflow,jax,dev", "constraints/current.txt", "numpy,torch,tensorflow,jax"),
    "numpy": ("dev", None, "numpy"),
}


def _install(session: nox.Session, extras: str, constraints: str | None) -> None:
    pin = ["-c", constraints] if constraints else []
    session.install("--upgrade", "pip", *pin)
    session.install("-e", f".[{extras}]", *pin)
    session.run("python", "-m", "pip", "check")


for _name, (_extras, _constraints, _backends) in ENVIRONMENTS.items():

    def _tests(session: nox.Session, extras=_extras, constraints=_constraints, backends=_backends) -> None:
        _install(session, extras, constraints)
        env = {"D2LCONV_TEST_BACKENDS": backends, "D2LCONV_REQUIRE_BACKENDS": backends,
               "D2LCONV_BACKEND": "", "PYTHONHASHSEED": "0"}
        session.run("d2lconv", "info", env=env)
        session.run("python", "-m", "pytest", "-ra", *session.posargs, env=env)
        # the benchmark must keep working (a smoke run, not a timing gate)
        session.run("python", "tools/benchmark.py", "--quick", "--backends", backends, env=env)

    nox.session(name=f"tests-{_name}")(_tests)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.4")
    session.run("ruff", "check", "d2lconv", "tests", "tools", "noxfile.py")
