"""chuchu as an ordinary package: the wheel pip builds from this tree, and the command it installs.

The wheel must put one top-level name into site-packages, `chuchu`, and the installed command must
run from the installed files, not from this source tree.
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

# What a build needs of the tree; not .venv, var/ (the model cache) nor .git.
SOURCES = ("pyproject.toml", "README.md", "corpus", "index", "service")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from a copy of the tree (setuptools writes build/ and egg-info where it builds)."""
    tree, out = tmp_path_factory.mktemp("tree"), tmp_path_factory.mktemp("wheel")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tree / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out)]
    built = subprocess.run([*command, str(tree)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("chuchu-*.whl")
    return found


def test_the_wheel_installs_one_top_level_name_and_carries_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"chuchu", wheel.name.split("-py3")[0] + ".dist-info"}
    assert {n.split("/")[1] for n in names if n.startswith("chuchu/")} == {"corpus", "index", "service"}
    # The default corpus, the page templates and the stylesheet are package data.
    tracked = {p.relative_to(ROOT).as_posix() for p in (ROOT / "corpus").glob("*.txt")}
    assert tracked and {f"chuchu/{t}" for t in tracked} <= set(names)
    assert "chuchu/corpus/catalog.json" in names
    assert "chuchu/service/templates/base.html" in names and "chuchu/service/static/chuchu.css" in names
    entry_points = zipfile.ZipFile(wheel).read(wheel.name.split("-py3")[0] + ".dist-info/entry_points.txt").decode()
    assert "chuchu = chuchu.service.cli:main" in entry_points


def test_the_installed_command_runs_from_the_installed_files(wheel, tmp_path):
    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)]
    done = subprocess.run(install, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    # The dependencies come from this environment, chuchu from the target, and the working directory
    # is neither the source tree nor the target.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "HOME": str(tmp_path)}
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import chuchu.service.cli as m, chuchu.index.build as b; print(m.__file__, b.__file__)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 0, where.stderr
    assert all(Path(f).is_relative_to(target / "chuchu") for f in where.stdout.split()), where.stdout

    chuchu = [sys.executable, str(target / "bin" / "chuchu")]
    shown = subprocess.run([*chuchu, "settings"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert str(target / "chuchu" / "corpus") in shown.stdout, shown.stdout
    # The packaged corpus is read from the installed files.
    check = subprocess.run(
        [*chuchu, "corpus", "check"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert check.returncode == 0, check.stderr
    assert "000_e0cba58f03a6750f.txt" in check.stdout, check.stdout[-2000:]
