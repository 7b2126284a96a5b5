"""What a DBOS client under test is: a language and an SDK version, the command that starts one
executor of it, and the one-time preparation of its dependencies.

Owns: the ``Client`` base, the Python, TypeScript, Go and Java clients, and the stamp files that
make ``prepare`` run its installation once per pinned input. Imports nothing from Baton or pytest.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".venv-clients"
"""Where clients that need an environment of their own get it (ignored by git)."""
PYTHON_APP = REPO_ROOT / "tests" / "dbos_app" / "executor_app.py"
CONNECTOR_DIR = REPO_ROOT / "connectors" / "python"
"""The Python connector package (``baton-connector``), installed into the connector clients'
environments."""
TYPESCRIPT_DIR = Path(__file__).resolve().parent / "typescript"
TYPESCRIPT_CONNECTOR_DIR = REPO_ROOT / "connectors" / "typescript"
"""The TypeScript connector package (``baton-connector`` on npm's side), installed into the
TypeScript connector client's ``install_dir`` (copied, not linked: see its ``.npmrc``)."""
GO_DIR = Path(__file__).resolve().parent / "go"
GO_MODULE = "github.com/dbos-inc/dbos-transact-golang"
GO_CONNECTOR_DIR = REPO_ROOT / "connectors" / "go"
"""Baton's Go connector module, which the Go connector clients build into the app."""
JAVA_DIR = Path(__file__).resolve().parent / "java"
INSTALL_TIMEOUT_S = 600.0
STAMP_NAME = ".baton-prepared"


class ClientPrepareError(RuntimeError):
    """A client's toolchain is missing or its installation failed; the message says what to do."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Client(ABC):
    """One DBOS SDK release, as the conformance tier runs it."""

    language: str
    """As the SDK reports it in ``executor_info`` (``python``, ``typescript``)."""
    sdk_version: str
    """As the SDK reports it in ``executor_info`` (``dbos_version``)."""
    first_function_id: int
    """The DBOS function id of a workflow's first step (Python counts from 1, TypeScript from 0):
    ``multi_step``'s step ``k`` is function id ``first_function_id + k - 1``, the number a fork's
    ``start_step`` names."""
    connector: bool = False
    """The app connects through Baton's connector for its language (``connectors/``) instead of
    DBOS's own Conductor client; each client class says which."""

    def function_id_of_step(self, step_no: int) -> int:
        """The function id of ``multi_step``'s step ``step_no`` (counted from 1)."""
        return self.first_function_id + step_no - 1

    @property
    def label(self) -> str:
        """``<language>-<sdk_version>``, with ``-connector`` for a connector client: test ids,
        log directories, the prepare command line."""
        suffix = "-connector" if self.connector else ""
        return f"{self.language}-{self.sdk_version}{suffix}"

    @abstractmethod
    def command(self) -> list[str]:
        """The command line that starts one executor (configured by the environment)."""

    def environment(self) -> dict[str, str]:
        """Variables the client adds to the executor's environment (none by default)."""
        return {}

    @abstractmethod
    def prepare(self) -> None:
        """Install the client's dependencies unless its stamp says they are there.

        Raises:
            ClientPrepareError: a toolchain is missing or the installation failed.
        """


@dataclass(frozen=True, slots=True, kw_only=True)
class PythonClient(Client):
    """``tests/dbos_app/executor_app.py`` on a Python environment with ``dbos==sdk_version``."""

    language: str = "python"
    first_function_id: int = 1

    venv: Path | None = None
    """A virtual environment of its own, created by ``prepare``; ``None``: the interpreter running
    the tests, whose ``dbos`` the project's test extras pin."""
    connector: bool = False
    """The app connects through ``baton_connector`` (``connectors/python``, installed into
    ``venv`` beside ``dbos``) instead of DBOS's own Conductor client (gone since dbos 3.3)."""

    def python(self) -> Path:
        return Path(sys.executable) if self.venv is None else self.venv / "bin" / "python"

    def command(self) -> list[str]:
        return [str(self.python()), str(PYTHON_APP)]

    def environment(self) -> dict[str, str]:
        return {"BATON_TEST_CONNECTOR": "1"} if self.connector else {}

    def prepare(self) -> None:
        if self.venv is None:
            self._check_running_interpreter()
            return
        wanted = [f"dbos=={self.sdk_version}"]
        stamp = wanted[0]
        if self.connector:
            wanted.append(str(CONNECTOR_DIR))
            stamp = f"{stamp} baton-connector {_tree_digest(CONNECTOR_DIR)}"
        if _stamped(self.venv, stamp):
            return
        _progress(f"preparing {self.label}: a virtual environment in {self.venv} with {wanted}")
        if not self.python().exists():
            _run(
                [sys.executable, "-m", "venv", str(self.venv)], cwd=REPO_ROOT, what="python -m venv"
            )
        pip = [str(self.python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        # --force-reinstall --no-deps of the connector alone: a changed source tree of the same
        # version is installed again (the first command resolved and installed its dependencies).
        _run([*pip, *wanted], cwd=REPO_ROOT, what=f"pip install {' '.join(wanted)}")
        if self.connector:
            _run(
                [*pip, "--force-reinstall", "--no-deps", str(CONNECTOR_DIR)],
                cwd=REPO_ROOT,
                what="pip install the connector",
            )
        _stamp(self.venv, stamp)

    def _check_running_interpreter(self) -> None:
        try:
            installed = importlib.metadata.version("dbos")
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != self.sdk_version:
            raise ClientPrepareError(
                f"{self.label} runs on the test interpreter {sys.executable}, which has dbos "
                f"{installed or 'not installed'}: install the test extras (`make install`)"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class TypeScriptClient(Client):
    """``tests/clients/typescript/executor_app.js`` on Node.js, on the install of ``install_dir``
    (``app_dir`` itself by default), whose lockfile pins ``@dbos-inc/dbos-sdk``."""

    language: str = "typescript"
    first_function_id: int = 0

    app_dir: Path = TYPESCRIPT_DIR
    install_dir: Path | None = None
    """Another directory whose ``package.json``/``package-lock.json``/``node_modules`` the app
    requires its packages from (``BATON_TEST_INSTALL_DIR``); ``None``: ``app_dir``'s own."""
    connector: bool = False
    """The app connects through ``baton-connector`` (``connectors/typescript``, installed into
    ``install_dir`` beside the SDK) instead of DBOS's own Conductor client (gone since 5.3)."""

    @property
    def packages_dir(self) -> Path:
        """Where ``npm ci`` installs the app's packages."""
        return self.app_dir if self.install_dir is None else self.install_dir

    def command(self) -> list[str]:
        return ["node", str(self.app_dir / "executor_app.js")]

    def environment(self) -> dict[str, str]:
        env = {} if self.install_dir is None else {"BATON_TEST_INSTALL_DIR": str(self.install_dir)}
        if self.connector:
            env["BATON_TEST_CONNECTOR"] = "1"
        return env

    def prepare(self) -> None:
        packages = self.packages_dir
        pinned = json.loads((packages / "package.json").read_text())["dependencies"]
        if pinned.get("@dbos-inc/dbos-sdk") != self.sdk_version:
            raise ClientPrepareError(
                f"{packages / 'package.json'} pins @dbos-inc/dbos-sdk "
                f"{pinned.get('@dbos-inc/dbos-sdk')}, not {self.sdk_version}"
            )
        stamp = hashlib.sha256((packages / "package-lock.json").read_bytes()).hexdigest()
        if self.connector:
            # npm ci copies the connector in: a changed source tree of the same version is
            # installed again when its digest changes.
            digest = _tree_digest(TYPESCRIPT_CONNECTOR_DIR, manifest="package.json", sources="*")
            stamp = f"{stamp} baton-connector {digest}"
        modules = packages / "node_modules"
        if _stamped(modules, stamp):
            return
        for tool in ("node", "npm"):
            if shutil.which(tool) is None:
                raise ClientPrepareError(
                    f"{self.label} runs on Node.js and `{tool}` is missing: install Node.js 20+ "
                    "with npm (`apt-get install nodejs npm`), then run `make client-deps`"
                )
        _progress(f"preparing {self.label}: npm ci in {packages}")
        _run(["npm", "ci", "--no-audit", "--no-fund"], cwd=packages, what="npm ci")
        _stamp(modules, stamp)


@dataclass(frozen=True, slots=True, kw_only=True)
class GoClient(Client):
    """``tests/clients/go`` built with the Go toolchain; its ``go.mod``/``go.sum`` pin the SDK.

    A connector client builds the same app with ``-tags baton_connector`` (``connector.go``: a
    blank import of Baton's Go connector, ``connectors/go``) against the modfile
    ``go.connector-<sdk_version>.mod``, which pins that SDK and replaces the connector's module
    with the checkout's ``connectors/go``."""

    language: str = "go"
    first_function_id: int = 0

    app_dir: Path = GO_DIR
    binary: Path = CACHE_DIR / "go" / "executor-app"
    connector: bool = False
    """The app connects through ``connectors/go`` (the SDK since v1.7.0 has no open Conductor
    client, only ``dbos.RegisterConductorFactory``)."""

    @property
    def modfile(self) -> Path:
        """The module file the build reads (``go.mod``, or the connector's per-version one)."""
        name = f"go.connector-{self.sdk_version}.mod" if self.connector else "go.mod"
        return self.app_dir / name

    def command(self) -> list[str]:
        return [str(self.binary)]

    def prepare(self) -> None:
        if f"{GO_MODULE} {self.sdk_version}" not in self.modfile.read_text():
            raise ClientPrepareError(f"{self.modfile} does not pin {GO_MODULE} {self.sdk_version}")
        digest = hashlib.sha256()
        sources = [self.modfile, self.modfile.with_suffix(".sum")]
        sources += sorted(self.app_dir.glob("*.go"))
        if self.connector:
            sources += [GO_CONNECTOR_DIR / "go.mod", GO_CONNECTOR_DIR / "go.sum"]
            sources += sorted(GO_CONNECTOR_DIR.glob("*.go"))
        for path in sources:
            digest.update(str(path.relative_to(REPO_ROOT)).encode())
            digest.update(path.read_bytes())
        inputs = digest.hexdigest()
        out_dir = self.binary.parent
        if self.binary.exists() and _stamped(out_dir, inputs):
            return
        if shutil.which("go") is None:
            raise ClientPrepareError(
                f"{self.label} is a Go program and `go` is missing: install Go 1.26+ "
                "(`apt-get install golang-go` if recent enough), then run `make client-deps`"
            )
        _progress(f"preparing {self.label}: go build in {self.app_dir} -> {self.binary}")
        out_dir.mkdir(parents=True, exist_ok=True)
        build = ["go", "build", "-mod=readonly", f"-modfile={self.modfile.name}"]
        if self.connector:
            build.append("-tags=baton_connector")
        _run([*build, "-o", str(self.binary), "."], cwd=self.app_dir, what="go build")
        _stamp(out_dir, inputs)


@dataclass(frozen=True, slots=True, kw_only=True)
class JavaClient(Client):
    """``tests/clients/java`` built with Maven on a JDK 17+; its ``pom.xml`` pins
    ``dev.dbos:transact``. The build (classes and the copied dependencies) goes to ``build_dir``."""

    language: str = "java"
    first_function_id: int = 0

    app_dir: Path = JAVA_DIR
    build_dir: Path = CACHE_DIR / "java"

    def command(self) -> list[str]:
        classpath = f"{self.build_dir / 'classes'}:{self.build_dir / 'dependency'}/*"
        return ["java", "-cp", classpath, "baton.ExecutorApp"]

    def prepare(self) -> None:
        pom = (self.app_dir / "pom.xml").read_text()
        if f"<version>{self.sdk_version}</version>" not in pom:
            raise ClientPrepareError(
                f"{self.app_dir / 'pom.xml'} does not pin dev.dbos:transact {self.sdk_version}"
            )
        digest = hashlib.sha256(pom.encode())
        for source in sorted((self.app_dir / "src").rglob("*.java")):
            digest.update(source.read_bytes())
        inputs = digest.hexdigest()
        if _stamped(self.build_dir, inputs):
            return
        for tool in ("java", "mvn"):
            if shutil.which(tool) is None:
                raise ClientPrepareError(
                    f"{self.label} is a Java program and `{tool}` is missing: install a JDK 17+ "
                    "and Maven (`apt-get install openjdk-17-jdk-headless maven`), then run "
                    "`make client-deps`"
                )
        _progress(f"preparing {self.label}: mvn compile in {self.app_dir} -> {self.build_dir}")
        _run(
            [
                "mvn",
                "-q",
                "-B",
                f"-DbuildDir={self.build_dir}",
                "compile",
                "dependency:copy-dependencies",
            ],
            cwd=self.app_dir,
            what="mvn compile dependency:copy-dependencies",
        )
        _stamp(self.build_dir, inputs)


def _tree_digest(
    directory: Path, *, manifest: str = "pyproject.toml", sources: str = "*.py"
) -> str:
    """A digest of a package's ``manifest`` and ``src/**/<sources>`` (what a reinstall depends
    on; pip's in-tree ``build/`` and ``*.egg-info`` are not)."""
    digest = hashlib.sha256()
    files = sorted(path for path in (directory / "src").rglob(sources) if path.is_file())
    for path in [directory / manifest, *files]:
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stamped(directory: Path, content: str) -> bool:
    stamp = directory / STAMP_NAME
    return stamp.exists() and stamp.read_text() == content


def _stamp(directory: Path, content: str) -> None:
    (directory / STAMP_NAME).write_text(content)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(args: list[str], *, cwd: Path, what: str) -> None:
    try:
        result = subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClientPrepareError(f"{what} failed: {exc}") from exc
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise ClientPrepareError(f"{what} failed with exit code {result.returncode}:\n{tail}")
