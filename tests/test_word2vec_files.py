"""Word2Vec runs scored on the user's own word-pair and analogy files (gensim's formats), in Python and
with ``nlpzoo evaluate RUN --pairs FILE --analogies FILE``."""
from __future__ import annotations

import shutil
import textwrap

import pytest

import nlpzoo

pytest.importorskip("gensim")

from nlpzoo_training.run import Run  # noqa: E402

SMALL = {"vector_size": 32, "epochs": 3, "min_count": 2, "workers": 1}


@pytest.fixture(scope="module")
def model(module_folder):
    embedder = nlpzoo.build({"name": "word2vec", **SMALL})
    embedder.fit(nlpzoo.build("lee").load(), Run.standalone(module_folder("w2v"), seed=0))
    return embedder


def gensim_files():
    from gensim.test.utils import datapath

    return datapath("wordsim353.tsv"), datapath("questions-words.txt")


@pytest.mark.slow
def test_own_files_score_as_gensim_scores_them(model):
    pairs, analogies = gensim_files()
    mine = {**model.evaluate_pairs(pairs), **model.evaluate_analogies(analogies)}
    pearson, spearman, oov = model.wv.evaluate_word_pairs(pairs, case_insensitive=True)
    accuracy, sections = model.wv.evaluate_word_analogies(analogies, restrict_vocab=30000, case_insensitive=True)
    assert mine["pairs_spearman"] == pytest.approx(spearman[0]) and mine["pairs_pearson"] == pytest.approx(pearson[0])
    assert mine["pairs_oov_ratio"] == pytest.approx(oov / 100)
    assert mine["pairs_scored"] == round(353 * (1 - oov / 100))
    assert mine["analogy_accuracy"] == pytest.approx(accuracy)
    total = sections[-1]
    assert mine["analogy_questions"] == len(total["correct"]) + len(total["incorrect"])
    # the same numbers as the run's own intrinsic evaluation of these files
    intrinsic = model.intrinsic()
    assert mine["pairs_spearman"] == pytest.approx(intrinsic["wordsim353_spearman"])
    assert mine["analogy_accuracy"] == pytest.approx(intrinsic["analogy_accuracy"])


def test_spaces_comments_and_blank_lines_are_read(model, tmp_path):
    words = model.wv.index_to_key[:6]
    tabs, spaces = tmp_path / "tabs.tsv", tmp_path / "spaces.txt"
    tabs.write_text(f"# mine\n{words[0]}\t{words[1]}\t3.5\n{words[2]}\t{words[3]}\t1\n\n{words[4]}\t{words[5]}\t9\n")
    spaces.write_text(f"{words[0]} {words[1]} 3.5\n{words[2]} {words[3]} 1\n{words[4]} {words[5]} 9\n")
    assert model.evaluate_pairs(str(tabs)) == model.evaluate_pairs(str(spaces))
    assert model.evaluate_pairs(str(tabs))["pairs_scored"] == 3

    questions = tmp_path / "analogies.txt"
    questions.write_text(f"\n: mine\n{' '.join(words[:4])}\n\n{' '.join(words[2:6])}\n: empty\n")
    scores = model.evaluate_analogies(str(questions))
    assert scores["analogy_questions"] == 2 and "analogy_accuracy[mine]" in scores


@pytest.mark.parametrize("text, line, expected", [
    ("tiger\tcat\t7.35\ntiger\tcat\n", 2, "expected two words and a score"),
    ("tiger\tcat\tvery\n", 1, "expected two words and a score"),
    ("# only comments\n", None, "no word pairs in the file"),
])
def test_bad_pair_files_name_file_and_line(model, tmp_path, text, line, expected):
    path = tmp_path / "pairs.tsv"
    path.write_text(text)
    with pytest.raises(nlpzoo.ConfigError, match=expected) as caught:
        model.evaluate_pairs(str(path))
    assert caught.value.file == str(path) and caught.value.line == line


@pytest.mark.parametrize("text, line, expected", [
    ("athens greece paris france\n", 1, "expected a ': section name' line"),
    (": capitals\nathens greece paris\n", 2, "expected four words"),
])
def test_bad_analogy_files_name_file_and_line(model, tmp_path, text, line, expected):
    path = tmp_path / "analogies.txt"
    path.write_text(text)
    with pytest.raises(nlpzoo.ConfigError, match=expected) as caught:
        model.evaluate_analogies(str(path))
    assert caught.value.file == str(path) and caught.value.line == line


def test_pairs_all_out_of_the_vocabulary_is_a_clear_error(model, tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("qwertyuiop\tasdfghjkl\t5\n")
    with pytest.raises(nlpzoo.ConfigError, match="none of its 1 pairs has both words"):
        model.evaluate_pairs(str(path))


@pytest.mark.slow
def test_evaluate_command_scores_a_run_on_own_files(cli, tmp_path):
    recipe = tmp_path / "w2v.yaml"
    recipe.write_text(textwrap.dedent("""\
        seed: 0
        dataset: lee
        model: {name: word2vec, vector_size: 32, epochs: 3, min_count: 2, workers: 1}
        """))
    run = tmp_path / "run"
    assert cli("train", str(recipe), "--run-dir", str(run)).returncode == 0
    pairs, analogies = (shutil.copy(f, tmp_path) for f in gensim_files())
    done = cli("evaluate", str(run), "--pairs", pairs, "--analogies", analogies)
    assert done.returncode == 0, done.stderr
    printed = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    model = nlpzoo.open_run(run).model
    expected = {**model.evaluate_pairs(pairs), **model.evaluate_analogies(analogies)}
    assert printed == {k: f"{v:.4f}" if isinstance(v, float) else str(v) for k, v in expected.items()}

    (tmp_path / "bad.tsv").write_text("tiger cat\n")
    done = cli("evaluate", str(run), "--pairs", str(tmp_path / "bad.tsv"))
    assert done.returncode == 1 and done.stderr.startswith(f"nlpzoo: error: {tmp_path / 'bad.tsv'}:1: expected two words")
    done = cli("evaluate", str(run), "--analogies", str(tmp_path / "missing.txt"))
    assert done.returncode == 1 and "missing.txt: --analogies: file not found" in done.stderr
