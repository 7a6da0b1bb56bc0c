"""Shared fixtures. ``nlpzoo_isolated`` (a fresh plugin manager) comes from nlpzoo_testing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]



def run_cli(*args: str, env: dict | None = None, input: str | None = None, cwd: str | None = None, timeout: int = 600):
    """Run the real ``nlpzoo`` command in a subprocess; returns the CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "nlpzoo.cli", *args], capture_output=True, text=True,
                          env=full_env, input=input, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="session")
def cli():
    """``cli("train", "recipe.yaml")``: the real command in a subprocess (see :func:`run_cli`)."""
    return run_cli


@pytest.fixture(scope="module")
def module_folder(tmp_path_factory):
    """``module_folder("runs")``: a fresh folder that lasts for one test module, then is deleted.

    Trained runs and saved models are large; kept for the whole session they fill a small disk.
    """
    made: list[Path] = []

    def make(name: str) -> Path:
        made.append(tmp_path_factory.mktemp(name))
        return made[-1]

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for a module's tests (``pytestmark = pytest.mark.usefixtures(...)``), then as before."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def no_network(monkeypatch):
    """Every connection attempt in this process is refused and recorded; the test asserts the list stays empty."""
    import socket

    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts
