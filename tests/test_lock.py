"""The lock files install exactly what the ranges allow and what these tests run with: every range in
requirements*.txt is pinned inside its range with sha256 hashes, the runtime lock is the dev lock's
subset (so run.sh gets the versions the tests passed with), and this environment matches the lock.
A range edited without `bash deploy/lock.sh` fails here."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pipeline.config import PROJECT_ROOT

PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")


def ranges(path: Path) -> list[Requirement]:
    reqs = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            reqs.append(Requirement(line))
    return reqs


def pins(path: Path) -> list[tuple[str, str, Marker | None, int]]:
    """(name, version, marker, number of hashes) for every pin of a lock file."""
    out: list[tuple[str, str, Marker | None, int]] = []
    for line in path.read_text().splitlines():
        if line.startswith((" ", "#")) or not line.strip():
            if "--hash=sha256:" in line and out:
                name, version, marker, hashes = out[-1]
                out[-1] = (name, version, marker, hashes + 1)
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: not an exact pin: {line}"
        marker = Marker(match["marker"]) if match["marker"] else None
        out.append((canonicalize_name(match["name"]), match["version"], marker, 0))
    return out


RUNTIME = PROJECT_ROOT / "requirements.lock"
DEV = PROJECT_ROOT / "requirements-dev.lock"


@pytest.mark.parametrize(("txt", "lock"), [("requirements.txt", RUNTIME), ("requirements-dev.txt", DEV),
                                           ("requirements.txt", DEV)])
def test_every_range_is_pinned_inside_it_with_hashes(txt: str, lock: Path) -> None:
    pinned = pins(lock)
    assert pinned and all(hashes >= 1 for *_, hashes in pinned), f"{lock.name}: a pin without a hash"
    versions: dict[str, list[str]] = {}
    for name, version, _, _ in pinned:
        versions.setdefault(name, []).append(version)
    for req in ranges(PROJECT_ROOT / txt):
        name = canonicalize_name(req.name)
        assert name in versions, f"{txt}: {req} is not in {lock.name}; run `bash deploy/lock.sh`"
        for version in versions[name]:
            assert req.specifier.contains(version, prereleases=True), (
                f"{lock.name} pins {name}=={version} outside {txt}'s {req.specifier}; run `bash deploy/lock.sh`")


def test_the_runtime_lock_is_the_dev_lock_without_the_test_tools() -> None:
    dev = {(name, version, str(marker)) for name, version, marker, _ in pins(DEV)}
    runtime = {(name, version, str(marker)) for name, version, marker, _ in pins(RUNTIME)}
    assert runtime <= dev, sorted(runtime - dev)


def test_this_environment_is_the_dev_lock() -> None:
    wrong = []
    for name, version, marker, _ in pins(DEV):
        if marker is not None and not marker.evaluate():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong.append(f"{name}: lock {version}, installed {installed}")
    assert not wrong, "run `bash test.sh` (it installs the lock): " + "; ".join(wrong)


def test_the_installer_itself_is_pinned_and_hashed() -> None:
    (uv,) = pins(PROJECT_ROOT / "deploy" / "uv.lock")
    assert uv[0] == "uv" and uv[3] >= 10  # one wheel per platform, all hashed
