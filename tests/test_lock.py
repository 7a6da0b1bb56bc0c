"""The lock that `.ci/setup` installs: every requirement of pyproject.toml pinned, with hashes, torch as constraints.txt says.

A requirement added to pyproject.toml without `bash .ci/lock` fails here, not on a fresh machine.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / ".ci" / "requirements.lock"
SET_UP_WITH = ("all", "test", "docs")  # the extras that .ci/setup installs


def locked() -> dict[str, tuple[Version, list[str]]]:
    """Each pinned package: its version and the hashes that follow its line."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    name = None
    for line in LOCK.read_text().splitlines():
        if m := re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line):
            name = canonicalize_name(m[1])
            pins[name] = (Version(m[2]), [])
        elif name and (h := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[name][1].append(h[1])
    return pins


def requirements(extras=SET_UP_WITH) -> list[Requirement]:
    """pyproject's requirements for ``extras``, following ``nlpzoo[...]`` references."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo, seen, out = list(extras), set(), [Requirement(r) for r in project["dependencies"]]
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in project["optional-dependencies"][extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == "nlpzoo":
                todo.extend(req.extras)
            else:
                out.append(req)
    return out


def test_every_requirement_of_the_set_up_is_pinned_in_the_lock_within_its_range():
    pins = locked()
    for req in requirements():
        if req.marker and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is in pyproject.toml but not in .ci/requirements.lock: run bash .ci/lock"
        assert req.specifier.contains(pins[name][0], prereleases=True), \
            f"the lock pins {name}=={pins[name][0]}, outside pyproject's {req}: run bash .ci/lock"


def test_every_pinned_package_carries_a_sha256():
    bare = [name for name, (_, hashes) in locked().items() if not hashes]
    assert not bare, f"pinned without a hash: {bare}"


def test_the_lock_holds_the_torch_build_that_the_constraints_name():
    wanted = Version(re.search(r"^torch==(\S+)", (ROOT / ".ci" / "constraints.txt").read_text(), re.M)[1])
    torch_version = locked()["torch"][0]
    assert torch_version.public == wanted.public and torch_version.local == "cpu"
