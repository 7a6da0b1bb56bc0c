"""Starting without copying a recipe (``nlpzoo init TASK``), shell completion, and an example at the
end of every command's ``--help``."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlpzoo.cli import cli as nlpzoo_cli
from nlpzoo.plugins import get_manager
from nlpzoo_starters.starters import starters

STARTERS = starters()

TASKS = ["classify-bert", "classify-lstm", "ner-bert", "score-bert", "pairs-bert", "multilabel-bert", "language-model", "word2vec", "gan-images", "gan-text"]


def test_every_user_task_has_a_starter():
    assert set(TASKS) <= set(STARTERS)


@pytest.mark.parametrize("task", sorted(STARTERS))
def test_each_starter_is_commented_and_validates(task, cli, tmp_path):
    done = cli("init", task, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    written = tmp_path / f"{task}.yaml"
    assert done.stdout.splitlines()[0] == f"wrote {task}.yaml: {STARTERS[task].summary}"
    text = written.read_text()
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#") or " # " in line]
    assert len(comments) >= 8, "a starter explains itself"
    assert f"nlpzoo train {task}.yaml" in text  # its own commands name the file it was written to
    checked = cli("validate", str(written))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip().endswith("ok")


@pytest.mark.slow
def test_the_word2vec_starter_trains(cli, tmp_path):
    assert cli("init", "word2vec", "-o", str(tmp_path / "w2v.yaml")).returncode == 0
    done = cli("train", str(tmp_path / "w2v.yaml"), "--run-dir", str(tmp_path / "run"),
               "--set", "dataset.limit=20", "--set", "model.epochs=1", "--set", "model.min_count=2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "wordsim353_spearman" in done.stdout and (tmp_path / "run" / "report.html").exists()


def test_init_never_overwrites_without_force(cli, tmp_path):
    target = tmp_path / "mine.yaml"
    target.write_text("seed: 1\n")
    done = cli("init", "word2vec", "-o", str(target))
    assert done.returncode == 1 and "already exists" in done.stderr and "--force" in done.stderr
    assert target.read_text() == "seed: 1\n"
    assert cli("init", "word2vec", "-o", str(target), "--force").returncode == 0
    assert "name: word2vec" in target.read_text()


def test_init_without_a_task_lists_them_and_an_unknown_task_names_the_choices(cli):
    listed = cli("init").stdout
    for task in STARTERS:
        assert f"{task} " in listed and STARTERS[task].summary in listed
    done = cli("init", "classify-bret")
    assert done.returncode == 2 and "classify-bert" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- --help


def _commands():
    get_manager().add_commands(nlpzoo_cli)
    return sorted(nlpzoo_cli.commands)


@pytest.mark.parametrize("command", [None, *_commands()])
def test_every_help_ends_with_an_example(command):
    args = [command, "--help"] if command else ["--help"]
    result = CliRunner().invoke(nlpzoo_cli, args, prog_name="nlpzoo")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-2].strip() == "Example:", f"nlpzoo {command or ''} --help does not end with an example"
    example = lines[-1].strip()
    assert example.startswith("nlpzoo " + (command or "")) or (command and f"| nlpzoo {command} " in example)


# ---------------------------------------------------------------- shell completion


def _nlpzoo_on_path() -> dict:
    scripts = Path(sys.executable).parent
    if not (scripts / "nlpzoo").exists():
        pytest.skip(f"no nlpzoo console script next to {sys.executable}")
    return {**os.environ, "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}"}


def test_bash_completion_script_comes_from_click():
    done = subprocess.run(["nlpzoo"], env={**_nlpzoo_on_path(), "_NLPZOO_COMPLETE": "bash_source"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "_nlpzoo_completion()" in done.stdout
    assert "complete -o nosort -F _nlpzoo_completion nlpzoo" in done.stdout


def test_bash_completes_commands_and_tasks_with_the_documented_script():
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    script = """
        eval "$(_NLPZOO_COMPLETE=bash_source nlpzoo)"
        complete_words() { COMPREPLY=(); COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _nlpzoo_completion nlpzoo; echo "${COMPREPLY[*]}"; }
        complete_words nlpzoo com
        complete_words nlpzoo init cla
    """
    done = subprocess.run(["bash", "-c", script], env=_nlpzoo_on_path(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    commands, tasks = done.stdout.strip().splitlines()
    assert commands.split() == ["compare"]
    assert tasks.split() == ["classify-bert", "classify-lstm"]
