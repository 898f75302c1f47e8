"""The release as a user gets it: the wheel built from this checkout, installed into a new virtual
environment and run from a directory outside the checkout (``crawler --version``, ``crawler demo``,
shell completion through the installed ``crawler`` script); the version written in one place; and
the test command on a machine without the programs the tests run (``.ci/setup``).

How it stays offline and quick (about 10 s): the wheel is built with this environment's setuptools
(``pip wheel --no-build-isolation``, from a copy of the sources, so no ``build/`` is left in the
checkout); the new environment is made by this interpreter's ``venv`` with its own pip (ensurepip,
bundled), which installs the wheel with ``--no-index --no-deps``: ``pip install crawler.whl``
without the downloads. The dependencies are then lent from this test environment, where
constraints.txt pinned them: a ``.pth`` line puts its site-packages after the new environment's
own, so ``import crawler`` still finds the wheel's copy (checked), and ``pip check`` there says the
wheel's declared requirements are met by the pinned set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import crawler
from crawler.config import DEFAULT_USER_AGENT
from crawler.core.formats import RECORD_FORMAT, STATE_FORMAT

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "crawler"
pytestmark = pytest.mark.release


@dataclass
class Installed:
    """A new virtual environment with the built wheel installed, and a directory outside the checkout."""

    wheel: Path
    venv: Path
    elsewhere: Path

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a program from ``elsewhere`` with the new environment's bin/ first on PATH, as a user
        who activated it would."""
        full_env = {**clean_env(self.venv), **(env or {})}
        program = shutil.which(args[0], path=full_env["PATH"])
        assert program, f"{args[0]} is not on {full_env['PATH']}"
        return subprocess.run(
            [program, *args[1:]],
            cwd=self.elsewhere,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def clean_env(venv: Path) -> dict[str, str]:
    """The environment with the new venv first on PATH and nothing that points Python back into
    this checkout or its venv."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("_CRAWLER")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "/usr/bin:/bin")])
    return env


def copy_sources(target: Path) -> Path:
    """What the build reads: the top-level files (pyproject.toml, README.md, …) and the package."""
    target.mkdir()
    for item in REPO.iterdir():
        if item.is_file():
            shutil.copy2(item, target / item.name)
    shutil.copytree(PACKAGE, target / "crawler", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def build_wheel(sources: Path, dist: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(sources),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = dist.glob("crawler-*.whl")
    return wheel


def make_venv(venv: Path) -> None:
    """A venv of this interpreter (the same Python the pinned dependencies were installed for)."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)


def install_wheel(venv: Path, wheel: Path) -> None:
    """``pip install crawler.whl`` in the new venv, before it can see this environment's packages
    (its pip would take this environment's crawler for the wheel's and skip it)."""
    pip = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pip.returncode == 0, pip.stderr


def lend_dependencies(venv: Path) -> None:
    """This environment's site-packages on the new venv's path, after its own (a ``.pth`` line)."""
    out = subprocess.run(
        [str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    (Path(out.stdout.strip()) / "_pinned_dependencies.pth").write_text(f"{sysconfig.get_paths()['purelib']}\n")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("release")
    wheel = build_wheel(copy_sources(root / "src"), root / "dist")
    make_venv(root / "venv")
    install_wheel(root / "venv", wheel)
    lend_dependencies(root / "venv")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return Installed(wheel, root / "venv", elsewhere)


def test_the_version_is_written_once_and_read_by_the_package_metadata() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "crawler.__version__"}
    assert re.fullmatch(r"0\.\d+\.\d+", crawler.__version__)  # 0.x: CHANGELOG.md says what that promises
    assert DEFAULT_USER_AGENT.startswith(f"crawler/{crawler.__version__} ")  # what sites see says the same


def test_the_changelog_has_this_release() -> None:
    """Keep a Changelog form: [Unreleased] first, then this version with a date."""
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d\d-\d\d))?$", (REPO / "CHANGELOG.md").read_text(), re.M)
    assert headings[0] == ("Unreleased", "")
    assert headings[1][0] == crawler.__version__ and headings[1][1]


def test_the_wheel_holds_the_demo_site_its_job_and_py_typed(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    site = {p.relative_to(REPO).as_posix() for p in (PACKAGE / "demo/site").rglob("*") if p.is_file()}
    assert site and site <= names
    assert {"crawler/demo/job.yaml", "crawler/py.typed"} <= names
    assert {name.split("/")[0] for name in names} == {"crawler", f"crawler-{crawler.__version__}.dist-info"}


def test_the_installed_package_is_the_wheel_and_its_requirements_are_met(installed: Installed) -> None:
    where = installed.run("python", "-c", "import crawler; print(crawler.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.venv)
    check = installed.run("python", "-m", "pip", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_version_names_the_release_and_the_file_formats(installed: Installed) -> None:
    done = installed.run("crawler", "--version")
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout == f"crawler {crawler.__version__} (state format {STATE_FORMAT}, record format {RECORD_FORMAT})\n"
    )


def test_demo_without_a_job_file_crawls_from_any_directory(installed: Installed, unused_tcp_port: int) -> None:
    """The job ships in the package; the output lands in output/demo of the current directory.
    (``--port``: the job's own port, 8765, may be taken on a shared machine.)"""
    done = installed.run("crawler", "demo", "--port", str(unused_tcp_port))
    assert done.returncode == 0, done.stderr
    out = installed.elsewhere / "output/demo"
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 15 and "15 URLs" in done.stderr
    home = next(r for r in records if r["url"] == f"http://127.0.0.1:{unused_tcp_port}/")
    assert (out / home["path"]).read_bytes() == (PACKAGE / "demo/site/index.html").read_bytes()


def test_demo_names_the_port_flag_when_its_port_is_taken(installed: Installed, unused_tcp_port: int) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", unused_tcp_port))
        taken.listen()
        done = installed.run("crawler", "demo", "--port", str(unused_tcp_port))
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: cannot serve the demo site on 127.0.0.1:{unused_tcp_port}")
    assert "--port" in done.stderr and len(done.stderr.splitlines()) == 1


# What each shell's script must register: the line that ties the function to the `crawler` command.
REGISTRATION = {
    "bash": "complete -o nosort -F _crawler_completion crawler",
    "zsh": "compdef _crawler_completion crawler",
    "fish": "complete --no-files --command crawler --arguments",
}


@pytest.mark.parametrize("shell", sorted(REGISTRATION))
def test_completion_script_for_each_shell(installed: Installed, shell: str) -> None:
    """``_CRAWLER_COMPLETE=<shell>_source crawler`` (the line users put in their rc file) prints the
    shell's completion script; where the shell is installed, it parses the script."""
    done = installed.run("crawler", env={"_CRAWLER_COMPLETE": f"{shell}_source"})
    assert done.returncode == 0, done.stderr
    assert REGISTRATION[shell] in done.stdout
    binary = shutil.which(shell)
    if binary:
        parsed = subprocess.run([binary, "-n"], input=done.stdout, capture_output=True, text=True, timeout=30)
        assert parsed.returncode == 0, parsed.stderr


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("crawler de", ["demo"]),
        ("crawler run --max-p", ["--max-pages", "--max-pages-per-host"]),
        ("crawler demo --po", ["--port"]),
    ],
)
def test_bash_completes_commands_and_options(installed: Installed, words: str, expected: list[str]) -> None:
    """Through bash itself: the sourced script asks the installed ``crawler`` for the candidates."""
    script = f"""
eval "$(_CRAWLER_COMPLETE=bash_source crawler)"
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_crawler_completion crawler
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = installed.run("bash", "-c", script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected


def shell_or_skip(shell: str) -> None:
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed (bash .ci/setup installs it when it can)")


def test_fish_completes_commands_and_options(installed: Installed) -> None:
    shell_or_skip("fish")
    script = 'source (_CRAWLER_COMPLETE=fish_source crawler | psub); complete -C "crawler de"; complete -C "crawler run --max-p"'
    done = installed.run("fish", "--no-config", "-c", script)
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == ["demo", "--max-pages", "--max-pages-per-host"]


def test_zsh_registers_the_completion_after_compinit(installed: Installed) -> None:
    """What the rc line does in zsh: after ``compinit``, ``crawler`` is completed by the function."""
    shell_or_skip("zsh")
    script = 'autoload -Uz compinit && compinit -u -d "$PWD/.zcompdump"; eval "$(_CRAWLER_COMPLETE=zsh_source crawler)"; print -r -- "${_comps[crawler]}"'
    done = installed.run("zsh", "-f", "-c", script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "_crawler_completion"


@pytest.fixture
def bare_path(tmp_path: Path) -> str:
    """A PATH with bash and this Python only, as on a machine where nothing was installed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in (("bash", shutil.which("bash")), ("python3", sys.executable)):
        assert target
        (bin_dir / name).symlink_to(target)
    return str(bin_dir)


def test_setup_check_names_what_to_install_in_one_line(bare_path: str) -> None:
    done = subprocess.run(
        ["bash", str(REPO / ".ci/setup"), "--check"],
        env={"PATH": bare_path},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("missing: tinyproxy microsocks redis-server")
    assert "sudo apt-get install tinyproxy microsocks redis-server" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_a_full_test_run_without_the_programs_stops_in_one_line(bare_path: str) -> None:
    """The suite asks .ci/setup --check first: one line and exit 4, not hundreds of failures."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"} | {"PATH": bare_path}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.startswith("ERROR: missing: tinyproxy microsocks redis-server")
    assert done.stderr.strip().endswith("(or run: bash .ci/setup)") and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""
