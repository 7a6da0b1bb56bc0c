"""Would averaging the weights of finished runs (a "model soup") lift test accuracy? One model comes out either way.

    python benchmarks/bert_soup.py [--runs 5 6 7 8 9 10 11 12 13] [--groups 5+6 7+8 9+10 11+12 5+6+7+8 all]

Reads the default recipe's runs that ``benchmarks/bert_quality.py --only nlpzoo`` left in
benchmarks/out/bert_quality/run-nlpzoo-seed*/model (same split, same pretrained start; the seeds draw
different heads, batch orders, dropout masks and augmentations), averages each group's weights uniformly
(Wortsman et al. 2022) and labels the validation and test splits with the soup, by the highest logit.
Each soup is compared with the mean of its members alone.

For reference it also scores ensembles: the runs' class probabilities averaged, over every combination
of k runs. An ensemble is k models, not one, but it bounds what distilling the runs into one model
(self-distillation) could reach. Writes benchmarks/results/bert_soup.md.
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bert_common import RESULTS, ROOT, machine, rotten_tomatoes  # noqa: E402

RUNS = ROOT / "benchmarks" / "out" / "bert_quality"


def probabilities(model, ids: list[list[int]], pad_id: int):
    """Class probabilities of ``model`` for the texts (as token ids), one row per text."""
    from nlpzoo_bert.hf import logits_for

    return logits_for(model, ids, pad_id, 128).float().softmax(-1)


def accuracy(probs, targets) -> float:
    """Share of the rows whose highest probability is on the target class."""
    return (probs.argmax(-1) == targets).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", type=int, default=list(range(5, 14)))
    parser.add_argument("--groups", nargs="*", default=["5+6", "7+8", "9+10", "11+12", "5+6+7+8", "all"])
    args = parser.parse_args()

    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from nlpzoo_bert.hf import tokenize

    folder = lambda seed: RUNS / f"run-nlpzoo-seed{seed}" / "model"  # noqa: E731
    missing = [s for s in args.runs if not (folder(s) / "model.safetensors").exists()]
    if missing:
        sys.exit(f"bert_soup: no finished run for seed(s) {missing} in {RUNS}; "
                 f"run: python benchmarks/bert_quality.py --only nlpzoo --seeds {' '.join(map(str, missing))}")
    tokenizer = AutoTokenizer.from_pretrained(folder(args.runs[0]))
    data = rotten_tomatoes(0)
    model = AutoModelForSequenceClassification.from_pretrained(folder(args.runs[0]))
    names = ("validation", "test")
    texts = {name: tokenize(tokenizer, [ex["text"] for ex in data[name]], 128) for name in names}  # once for every model
    targets = {name: torch.tensor([model.config.label2id[ex["label"]] for ex in data[name]]) for name in names}

    def score(weights: dict) -> tuple[dict, tuple[float, float]]:
        model.load_state_dict(weights, strict=False)
        probs = {name: probabilities(model, texts[name], tokenizer.pad_token_id) for name in names}
        return probs, tuple(accuracy(probs[name], targets[name]) for name in names)

    weights = {s: load_file(folder(s) / "model.safetensors") for s in args.runs}
    probs, alone = {}, {}
    for s in args.runs:
        probs[s], alone[s] = score(weights[s])
        print(f"seed {s}: validation {alone[s][0]:.4f}, test {alone[s][1]:.4f}", flush=True)

    rows = ["| soup | validation | test | its members alone, mean test | soup minus members |", "|---|---|---|---|---|"]
    gains: dict[int, list[float]] = {}  # soup size -> soup minus its members
    for group in args.groups:
        members = args.runs if group == "all" else [int(s) for s in group.split("+")]
        soup = {k: sum(weights[s][k].float() for s in members) / len(members) for k in weights[members[0]]}
        _, (val, test) = score(soup)
        members_test = statistics.mean(alone[s][1] for s in members)
        gains.setdefault(len(members), []).append(test - members_test)
        print(f"soup {group}: validation {val:.4f}, test {test:.4f} (members {members_test:.4f})", flush=True)
        rows.append(f"| seeds {'+'.join(map(str, members))} | {val:.4f} | {test:.4f} | {members_test:.4f} | "
                    f"{test - members_test:+.4f} |")

    ensembles = ["| runs in the ensemble | combinations | validation, mean | test, mean | test, lowest to highest |",
                 "|---|---|---|---|---|"]
    for k in sorted({1, 2, 3, 5, len(args.runs)}):
        combos = list(itertools.combinations(args.runs, k))
        scored = [[accuracy(sum(probs[s][name] for s in c) / k, targets[name]) for name in names] for c in combos]
        val, test = (statistics.mean(col) for col in zip(*scored))
        low, high = min(t for _, t in scored), max(t for _, t in scored)
        print(f"ensembles of {k}: validation {val:.4f}, test {test:.4f} ({low:.4f} to {high:.4f})", flush=True)
        ensembles.append(f"| {k} | {len(combos)} | {val:.4f} | {test:.4f} | {low:.4f} to {high:.4f} |")

    lines = ["# BERT: uniform weight averages of finished runs", "",
             f"Machine: {machine()}.", "",
             "Runs: the default recipe (recipes/bert-rotten-tomatoes.yaml), split seed 0, recipe seeds as listed; "
             "labelled here by the highest logit, which reproduces each run's own test accuracy.", "",
             "| run | validation | test |", "|---|---|---|",
             *(f"| seed {s} | {v:.4f} | {t:.4f} |" for s, (v, t) in alone.items()), "",
             *rows, "",
             *(f"Soups of {n} runs: {statistics.mean(g):+.4f} over their members on average ({len(g)} soups)." if len(g) > 1
               else f"The soup of {n} runs: {g[0]:+.4f} over its members." for n, g in sorted(gains.items())), "",
             "For reference, ensembles: the runs' class probabilities averaged, over every combination of k runs. "
             "An ensemble is k models at prediction time, not one; a model distilled from the runs "
             "(self-distillation) is expected to come out at or below the ensemble it learns from.", "",
             *ensembles, "",
             "```text", "python " + " ".join(["benchmarks/bert_soup.py", *sys.argv[1:]]), "```", ""]
    from nlpzoo.files import atomic_write

    atomic_write(RESULTS / "bert_soup.md", "\n".join(lines))


if __name__ == "__main__":
    main()
