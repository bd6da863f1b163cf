"""The test matrix: `nox` builds every environment from this repository's own files and runs
the tests in each. `nox -l` lists the sessions; `nox -s tests-all` runs one.

- tests-all:     numpy, torch, tensorflow, mxnet and jax in ONE environment (numpy 1.23, MXNet's
                 line) - the cross-backend agreement tests and the chapter matrix need this.
- tests-current: numpy, torch and tensorflow on current releases (numpy 2.x, TensorFlow >= 2.18).
- tests-numpy:   the default install (plus the test runner): no deep-learning framework, no chapter
                 tools; the backend and shared-code tests on numpy. (Its numpy-2 chapter runs are
                 tests-current's.)
- agreement:     every chapter's recorded numbers from tests-all (numpy 1.23 + MXNet) and
                 tests-current (numpy 2 + current TensorFlow/JAX) in ONE table (`d2lconv compare`),
                 failing on any disagreement. It reuses the chapter matrix those sessions ran
                 (build/ci/tests-*) when it ran the chapters as they are now, else runs it again.
- site:          the book site built from the tests-all matrix and checked in headless Chromium
                 (offline math, figures, backend tabs, index links); screenshot in build/ci/tests-all/site.
                 agreement and site run in tests-all's environment (it holds [site]): no third install.
- package:       the sdist and wheel built and checked, the wheel installed in a clean environment,
                 a chapter run from it outside the checkout.
- quick:         for contributors: numpy and torch, no chapters, no tooling (not part of `nox`).
- lint:          ruff.

Each session makes every backend it lists required, so none of them can be skipped silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests-numpy", "tests-all", "tests-current", "agreement", "site", "package"]

ENVIRONMENTS = {
    # name: (extras, constraints file, backends it must test)
    "all": ("all,dev", "constraints/all-backends.txt", "numpy,torch,tensorflow,mxnet,jax"),
    "current": ("torch,tensorflow,jax,dev", "constraints/current.txt", "numpy,torch,tensorflow,jax"),
    "numpy": ("", None, "numpy"),
}
#: What the tests themselves need besides d2lconv (the numpy environment gets only these).
TEST_TOOLS = ("pytest>=7", "hypothesis>=6.80", "scipy>=1.10")
#: The numpy environment's tests: the backend contract, the shared code and the package (the others
#: need the chapter tools, which this environment leaves out on purpose).
NUMPY_TESTS = ("tests/test_backend_contract.py", "tests/test_rank_sweep.py", "tests/test_backend_selection.py",
               "tests/test_loader.py", "tests/test_conv.py", "tests/test_padding_stride.py", "tests/test_channels.py",
               "tests/test_pooling.py", "tests/test_d2l_idiom.py", "tests/test_init.py", "tests/test_registry.py",
               "tests/test_layers.py", "tests/test_robustness.py", "tests/test_kernels.py", "tests/test_receptive.py",
               "tests/test_install_hints.py", "tests/test_packaging.py", "tests/test_markdown_tables.py",
               "tests/test_training.py", "tests/test_checkpoint.py", "tests/test_compile.py")


def _install(session: nox.Session, extras: str, constraints: str | None) -> None:
    pin = ["-c", constraints] if constraints else []
    session.install("--upgrade", "pip", *pin)
    session.install("-e", f".[{extras}]" if extras else ".", *pin)
    if not extras:
        session.install(*TEST_TOOLS, *pin)
    session.run("python", "-m", "pip", "check")


for _name, (_extras, _constraints, _backends) in ENVIRONMENTS.items():

    def _tests(session: nox.Session, extras=_extras, constraints=_constraints, backends=_backends,
               name=_name) -> None:
        _install(session, extras, constraints)
        _fashion_mnist(session)
        if name == "all":  # its tooling tests check pages in Chromium: on a new machine they would skip
            _chromium(session)
        env = {"D2LCONV_BACKEND": "", "PYTHONHASHSEED": "0", "D2LCONV_MATRIX_BUILD": str(_build(name)),
               # two pytest workers on two cores: a thread each (d2lconv.backend.thread_limits; torch's
               # OpenMP threads spin when they share a core, one LeNet epoch took 7x longer)
               **{v: "1" for v in THREAD_VARIABLES}}
        # fuzzing: 300 examples (the tests' default) on numpy alone; fewer on five backends, to keep CI
        # under 25 minutes (each CI run draws new ones: no saved database). Current JAX recompiles per shape.
        if name in ("all", "current"):
            env["D2LCONV_HYPOTHESIS_EXAMPLES"] = "100" if name == "all" else "50"
        session.run("d2lconv", "info", env=env)
        # our own pytest plugin (d2lconv.testing): every backend of this environment, none may skip
        # the tooling tests (Dask, JupyterLab, the site) do not depend on the frameworks: tests-all runs them
        scope = [] if name == "all" else ["-m", "not tooling"]
        if name == "numpy":
            scope = ["-m", "not tooling and not chapter", *NUMPY_TESTS]
        # both cores (pytest-xdist, from [dev]), a test file per worker at a time: the tests sharing the
        # chapter matrix (test_chapters) or the site build (test_site) stay together, so each is made once
        workers = [] if name == "numpy" else ["-n", "2", "--dist", "loadfile"]
        session.run("python", "-m", "pytest", "-ra", "--durations=15", *workers, f"--backends={backends}",
                    "--require-backends", *scope, *session.posargs, env=env)
        # the benchmark must keep working (a smoke run, not a timing gate)
        session.run("python", "tools/benchmark.py", "--quick", "--backends", backends, env=env)

    nox.session(name=f"tests-{_name}")(_tests)


#: The variables d2lconv.backend.thread_limits sets (nox does not import d2lconv).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")
#: Where Debian's dataset-fashion-mnist package puts the four files d2l.FashionMNIST reads.
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def _apt_install(session: nox.Session, package: str, why: str) -> None:
    """Install a Debian package (as root, or through sudo), as a user following README would."""
    if not shutil.which("apt-get"):
        session.error(f"{why}, and there is no apt-get to install {package}: install it, then rerun")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    session.run(*sudo, "apt-get", "update", "-q", external=True)
    session.run(*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", package, external=True)


def _fashion_mnist(session: nox.Session) -> None:
    """The real Fashion-MNIST for the training tests and the LeNet chapter, the way README tells a
    learner to get it offline: Debian's dataset-fashion-mnist (unless $D2LCONV_DATA points elsewhere)."""
    if not os.environ.get("D2LCONV_DATA") and not (FASHION_MNIST / "t10k-labels-idx1-ubyte.gz").exists():
        _apt_install(session, "dataset-fashion-mnist", "the LeNet tests need Fashion-MNIST")


def _chromium(session: nox.Session) -> None:
    """Headless Chromium for the page checks (tests/test_site.py, the site session), from Debian's packages."""
    if not any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        _apt_install(session, "chromium", "no Chromium on PATH")


def _build(env_name: str) -> Path:
    return Path("build") / "ci" / f"tests-{env_name}"


def _matrix_is_current(build: Path, backends: str) -> bool:
    """Whether ``build`` holds a finished matrix of every chapter, as the chapters are now, on ``backends``,
    each run made with its chapter's test parameters (``matrix --test-parameters``, as the tests run it):
    a run records the values it was given (``parameters``) and its chapter's own test configuration
    (``test_parameters``, front matter); a run from before runs recorded them is not current."""
    try:
        summary = json.loads((build / "matrix.json").read_text())
    except (OSError, ValueError):
        return False
    ran = {(r["chapter"], r["backend"]): r for r in summary.get("runs", [])}
    wanted = {(p.stem, b): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in sorted(Path("chapters").glob("*.md")) for b in backends.split(",")}
    return not summary.get("interrupted") and all(
        key in ran and ran[key].get("source_sha256") == sha and "test_parameters" in ran[key]
        and (ran[key].get("parameters") or {}) == ran[key]["test_parameters"] for key, sha in wanted.items())


def _matrix_of(session: nox.Session, env_name: str) -> Path:
    """The chapter matrix of test environment ``env_name`` as the chapters are now, in their short
    test configuration (``--test-parameters``, as tests/test_chapters.py runs it): the one its test
    session left in build/ci/tests-NAME, else a new run with that environment's d2lconv."""
    build, backends = _build(env_name), ENVIRONMENTS[env_name][2]
    if not _matrix_is_current(build, backends):
        runner = Path(".nox") / f"tests-{env_name}" / "bin" / "d2lconv"
        if not runner.exists():
            session.error(f"no tests-{env_name} environment: run `nox -s tests-{env_name} {session.name}`")
        session.run(str(runner.resolve()), "matrix", "--build-dir", str(build), "--label", build.name,
                    "--backends", backends, "--test-parameters", "--no-progress", external=True,
                    env={"D2LCONV_BACKEND": ""},
                    success_codes=[0, 1])  # a failure shows in the comparison or on the site
    return build


def _tool(session: nox.Session, env_name: str, name: str) -> str:
    """A program of test environment ``env_name`` (``d2lconv``, ``python``): sessions that only read
    its results run there rather than installing d2lconv again."""
    path = Path(".nox") / f"tests-{env_name}" / "bin" / name
    if not path.exists():
        session.error(f"no tests-{env_name} environment: run `nox -s tests-{env_name} {session.name}`")
    return str(path.absolute())  # not resolve(): the venv's python is a symlink to the base interpreter


@nox.session(venv_backend="none")
def agreement(session: nox.Session) -> None:
    """One table, chapter x (backend, environment), across tests-all and tests-current."""
    _fashion_mnist(session)  # the matrix may run the LeNet chapter again
    session.run(_tool(session, "all", "d2lconv"), "compare",
                *(str(_matrix_of(session, name)) for name in ("all", "current")), external=True)


@nox.session(venv_backend="none")
def site(session: nox.Session) -> None:
    """The book site of the five-backend matrix, checked in headless Chromium (installed from
    Debian's packages when missing): offline math, figures, tabs, index links; a screenshot.
    Runs in tests-all's environment, which has the [site] tools."""
    _chromium(session)
    _fashion_mnist(session)  # the matrix may run the LeNet chapter again
    build = _matrix_of(session, "all")
    session.run(_tool(session, "all", "d2lconv"), "build", "--build-dir", str(build), external=True)
    session.run(_tool(session, "all", "python"), "tools/check_site.py", str(build / "site" / "html"),
                "--screenshot", str(build / "site" / "screenshot.png"), external=True)


@nox.session
def package(session: nox.Session) -> None:
    """What a learner installs: the sdist and the wheel built, their metadata checked (twine), the
    wheel installed (not editable) with the [chapters] extra under tests-current's constraints, and
    a chapter run by its short name from a folder outside the checkout."""
    session.install("build>=1", "twine>=5")
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), ".")
    session.run("python", "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir())))
    (wheel,) = dist.glob("d2lconv-*.whl")
    session.install(f"d2lconv[chapters] @ {wheel.resolve().as_uri()}", "-c", "constraints/current.txt")
    # the wheel just built, even where a reused environment holds one of the same version
    session.install("--force-reinstall", "--no-deps", str(wheel))
    session.run("python", "-m", "pip", "check")
    outside = Path(tempfile.mkdtemp(prefix="d2lconv-learner-"))  # no checkout, no chapters/ folder here
    checkout = Path.cwd()
    session.chdir(outside)
    env = {"D2LCONV_BACKEND": "", "D2LCONV_CHAPTERS": ""}
    try:
        session.run("python", "-c", "import d2lconv; assert 'site-packages' in d2lconv.__file__, d2lconv.__file__",
                    env=env)
        session.run("d2lconv", "--version", env=env)
        session.run("d2lconv", "chapters", env=env)
        session.run("d2lconv", "run", "convolutions-for-images", "--build-dir", "out", env=env)
        session.run("d2lconv", "matrix", "padding", "--backends", "numpy", "--build-dir", "out", "--no-progress",
                    env=env)
        session.run("d2lconv", "chapters", "--copy", "mine", env=env)
        session.run("d2lconv", "run", "pooling", "--chapters-dir", "mine", "--build-dir", "out", env=env)
    finally:
        session.chdir(checkout)
        shutil.rmtree(outside, ignore_errors=True)


@nox.session
def quick(session: nox.Session) -> None:
    """For contributors, a few minutes: numpy and torch, every test but the chapters and the tooling."""
    _install(session, "torch,chapters,dask", "constraints/current.txt")  # dask: test_distributed imports it
    session.install("pytest>=7", "hypothesis>=6.80", "scipy>=1.10", "-c", "constraints/current.txt")
    session.run("python", "-m", "pytest", "-q", "--backends=numpy,torch", "--require-backends",
                "-m", "not chapter and not tooling", *session.posargs,
                env={"D2LCONV_BACKEND": "", "D2LCONV_HYPOTHESIS_EXAMPLES": "30"})


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.4")
    session.run("ruff", "check", "d2lconv", "tests", "tools", "noxfile.py")
