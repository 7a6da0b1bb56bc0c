"""Every side-by-side benchmark in one command, at a size that fits CI's time, into docs/benchmarks.md.

    python -m benchmarks --quick                          # every benchmark, small; writes docs/benchmarks.md
    python -m benchmarks --quick --only cli_speed lstm_speed   # some; the page keeps the others' last sections
    python -m benchmarks --report                         # rewrite the page without running anything
    python -m benchmarks --list                           # what runs, with which arguments, and what does not

Each script runs in a copy of benchmarks/ under benchmarks/out/quick/tree/ (recipes/ linked in), so what a
quick run writes never replaces the full-size results in benchmarks/results/, which stay the reference
figures. The page gets, per benchmark, the quick run's tables and plots with the time it took and the
load average around it, then the reference tables from benchmarks/results/ with an anchor on every
row (the README's figures link to those rows), and, at the top, the machine, versions and date.

Quick sizes are for checking that every comparison still runs and roughly where it lands: a handful of
steps, one repeat, one seed. The ratios are noisier than the full-size ones, and on a shared machine
the load average beside each section says how much to trust them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PAGE = ROOT / "docs" / "benchmarks.md"
IMAGES = ROOT / "docs" / "img" / "benchmarks"
WORK = HERE / "out" / "quick"
TREE = WORK / "tree"


@dataclass(frozen=True)
class Benchmark:
    """One script: what it compares, its quick arguments (None: not run here, and why), what it writes."""

    script: str
    compares: str
    quick: tuple[str, ...] | None
    results: tuple[str, ...]  # the files it writes into results/, tables first
    why_not: str = ""
    before: tuple[tuple[str, ...], ...] = ()  # commands run first in the tree (a short training to measure)
    needs: str = ""  # a module that must be importable (not a dependency of nlpzoo), else skipped with a note

    @property
    def name(self) -> str:
        return self.script.removesuffix(".py")


NLPZOO = ("{python}", "-m", "nlpzoo.cli")

BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("cli_speed.py", "`nlpzoo list` / `info` / `plugins` wall time against `python -c \"import torch\"`",
              ("--repeats", "3"), ("cli_speed.md",)),
    Benchmark("lstm_speed.py", "LSTM language model and classifier training steps against a plain torch loop",
              ("--steps", "10", "--warmup", "2", "--repeats", "2", "--output", "{tree}/benchmarks/results/lstm_speed.md"),
              ("lstm_speed.md",)),
    Benchmark("word2vec_speed.py", "Word2Vec training against gensim called directly",
              ("--epochs", "1", "--repeats", "1", "--workers", "1", "--output", "{tree}/benchmarks/results/word2vec_speed.md"),
              ("word2vec_speed.md",)),
    Benchmark("lm_quality.py", "LSTM and Transformer language model perplexity against a Kneser-Ney trigram on the "
              "same split", ("--run", "{tree}/runs/lstm-lm", "--transformer-run", "{tree}/runs/transformer-lm",
                             "--output", "{tree}/benchmarks/results/lm_quality.md"), ("lm_quality.md",),
              before=((*NLPZOO, "train", "recipes/lstm-lm-wiki.yaml", "--run-dir", "{tree}/runs/lstm-lm",
                       "--set", "train.max_steps=120", "--set", "train.epochs=1"),
                      (*NLPZOO, "train", "recipes/transformer-lm-wiki.yaml", "--run-dir", "{tree}/runs/transformer-lm",
                       "--set", "train.max_steps=60", "--set", "train.epochs=1"))),
    Benchmark("transformer_speed.py", "Transformer language model training steps against a plain torch loop, with "
              "achieved FLOP/s against the machine's matmul peak",
              ("--steps", "6", "--warmup", "2", "--repeats", "1", "--output",
               "{tree}/benchmarks/results/transformer_speed.md"), ("transformer_speed.md",)),
    Benchmark("textgan.py", "SeqGAN against its maximum-likelihood generator across temperatures (BLEU-4, self-BLEU-4, "
              "perplexity); generated snippets as classifier training data", None, ("textgan.md", "textgan.png"),
              why_not="it trains the SeqGAN recipe and a judge language model (tens of minutes)"),
    Benchmark("bert_speed.py", "BERT fine-tuning throughput against the transformers `Trainer`; inference against "
              "`transformers.pipeline`", ("--steps", "4", "--warmup", "1", "--rounds", "1", "--texts", "500"),
              ("bert_speed.md",)),
    Benchmark("bert_quality.py", "BERT test accuracy against TF-IDF + logistic regression (quick: the default recipe "
              "on 100 training examples, and the TF-IDF baseline on all)",
              ("--only", "tfidf", "fewshot", "--fewshot", "100", "--fewshot-seeds", "0", "--seeds", "--trainer-seeds",
               "--split-seeds"), ("bert_quality.md", "bert_fewshot.png")),
    Benchmark("bert_equivalence.py", "nlpzoo's loop against the `Trainer` from one saved start on the same batches",
              ("--steps", "5", "--precisions", "fp32"), ("bert_equivalence.md",)),
    Benchmark("bert_compile.py", "a BERT fine-tuning step in eager mode against `torch.compile`", ("--steps", "3"),
              ("bert_compile.md",)),
    Benchmark("bert_soup.py", "uniform weight averages of finished BERT runs against the runs alone", None,
              ("bert_soup.md",), why_not="it averages the nine full runs that `bert_quality.py` trains (hours)"),
    Benchmark("within_task_mlm.py", "masked-language modelling on the training texts before fine-tuning", None, (),
              why_not="it prepares a candidate encoder, compared by full recipe runs in `bert_tuning.md`; no side by side"),
    Benchmark("dcgan_speed.py", "a DCGAN G+D step against a plain PyTorch loop, fp32 and bf16",
              ("--steps", "6", "--warmup", "2", "--repeats", "1"), ("dcgan_speed.md",)),
    Benchmark("dcgan_quality.py", "Fréchet distance of generated digits: real digits, untrained and trained generator "
              "(quick: two epochs of training)", ("--run", "{tree}/runs/dcgan", "--samples", "200", "--judge-epochs", "1"),
              ("dcgan_quality.md",),
              before=((*NLPZOO, "train", "recipes/dcgan-mnist.yaml", "--run-dir", "{tree}/runs/dcgan",
                       "--set", "train.epochs=2"),)),
    Benchmark("augment_speed.py", "random swap, random deletion and WordNet synonyms against nlpaug 1.1.11",
              ("--sentences", "2000", "--repeats", "1", "--output", "{tree}/benchmarks/results/augment_speed.md"),
              ("augment_speed.md",), needs="nlpaug"),
    Benchmark("eda_effect.py", "the LSTM classifier on 500 examples with and without EDA",
              ("--seeds", "0", "--num-aug", "4", "--max-steps", "64", "--patience", "4",
               "--out", "{tree}/benchmarks/out/eda_effect", "--output", "{tree}/benchmarks/results/eda_effect.md"),
              ("eda_effect.md",)),
    Benchmark("glove_lstm.py", "the LSTM classifier initialised from GloVe, from Word2Vec trained on the corpus, and at "
              "random; WordSim-353 of GloVe next to the Word2Vec recipe's",
              ("--seeds", "0", "--train-size", "500", "--epochs", "1",
               "--out", "{tree}/benchmarks/out/glove_lstm", "--output", "{tree}/benchmarks/results/glove_lstm.md"),
              ("glove_lstm.md",)),
    Benchmark("lora_vs_full.py", "LoRA against full fine-tuning of MiniLM: test accuracy, trainable parameters, peak memory, "
              "examples/s; the cost of gradient checkpointing",
              ("--seeds", "0", "--train-size", "64", "--settings", "full", "lora",
               "--out", "{tree}/benchmarks/out/lora_vs_full", "--output", "{tree}/benchmarks/results/lora_vs_full.md"),
              ("lora_vs_full.md",), needs="peft"),
    Benchmark("smollm2_perplexity.py", "SmolLM2-135M perplexity on Hamlet before and after continued pretraining, all "
              "weights against LoRA", None, ("smollm2_perplexity.md",),
              why_not="it dequantizes and trains a 135M-parameter model (tens of minutes on 2 cores)"),
    Benchmark("sweep.py", "`nlpzoo sweep`: a grid against TPE and random search with and without pruning (BERT on a "
              "subset), a mixed search over the LSTM classifier's components against its shipped recipe, and the "
              "sweep's cost per trial against `nlpzoo train` in a shell loop (quick: the last only)",
              ("--part", "overhead"), ("sweep.md",)),
    Benchmark("ner_vs_trainer.py", "named entities on CoNLL-2003: the bert tagger against the `Trainer` set up as "
              "`run_ner.py` (entity F1, training examples/s)",
              ("--train-limit", "64", "--test-limit", "64", "--seeds", "0", "--output",
               "{tree}/benchmarks/results/ner_vs_trainer.md"), ("ner_vs_trainer.md",)),
    Benchmark("regression_vs_trainer.py", "scores from text (VADER movie ratings): the bert regressor against the "
              "`Trainer` set up as `run_glue.py` with `num_labels=1` (Pearson, Spearman, training examples/s)",
              ("--train-limit", "64", "--test-limit", "64", "--seeds", "0", "--output",
               "{tree}/benchmarks/results/regression_vs_trainer.md"), ("regression_vs_trainer.md",)),
    Benchmark("gpu_check.py", "on one GPU: BERT against the `Trainer`, every recipe, kill and resume, inference", None,
              ("gpu_check.md",), why_not="it needs a CUDA GPU; `--device cpu --quick` only checks the script"),
)
REFERENCE_ONLY = (("bert_tuning.md", "every candidate BERT recipe trained in full, with validation and test accuracy"),)


# ---------------------------------------------------------------- running


def run_quick(bench: Benchmark, timeout: float) -> dict:
    """Run one benchmark small in the tree; returns what the page says about it."""
    started, load_before = time.time(), os.getloadavg()
    log = WORK / "logs" / f"{bench.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    fill = {"python": sys.executable, "tree": str(TREE)}
    status, note = "ok", ""
    with open(log, "w", encoding="utf-8") as out:
        for command in (*bench.before, (sys.executable, f"benchmarks/{bench.script}", *bench.quick)):
            argv = [part.format(**fill) for part in command]
            out.write(f"$ {' '.join(argv)}\n")
            out.flush()
            try:
                done = subprocess.run(argv, cwd=TREE, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1", "NO_MKDOCS_2_WARNING": "1"})
            except subprocess.TimeoutExpired:
                status, note = "failed", f"stopped after {timeout:.0f} s"
                break
            if done.returncode != 0:
                status, note = "failed", f"exit status {done.returncode}"
                break
    seconds = time.time() - started
    body = ""
    if status == "ok":
        body = collect(bench, TREE / "benchmarks" / "results", "quick")
    else:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        body = "```text\n" + "\n".join(tail) + "\n```\n"
    command = "python benchmarks/" + " ".join([bench.script, *bench.quick]).replace("{tree}/", "")
    before = "".join(f"`{' '.join(c).replace('{python} -m nlpzoo.cli', 'nlpzoo').replace('{tree}/', '')}`, then "
                     for c in bench.before)
    return {"status": status, "note": note, "seconds": seconds, "load_before": load_before,
            "load_after": os.getloadavg(), "when": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "command": before + f"`{command}`", "body": body}


def make_tree() -> None:
    """benchmarks/ copied (not linked: scripts find results/ from their own path) and recipes/ linked."""
    if TREE.exists():
        shutil.rmtree(TREE)
    (TREE / "benchmarks" / "results").mkdir(parents=True)
    for script in HERE.glob("*.py"):
        shutil.copy2(script, TREE / "benchmarks" / script.name)
    for shared in ("recipes", "registry.yaml"):
        if (ROOT / shared).exists():
            (TREE / shared).symlink_to(ROOT / shared)


# ---------------------------------------------------------------- the page


def slug(text: str) -> str:
    text = re.sub(r"<[^>]+>|[*`]", "", text).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60].strip("-")


def anchor(section: str, first_cell: str, seen: set[str]) -> str:
    base = f"{section}-{slug(first_cell)}" if slug(first_cell) else section
    name, n = base, 1
    while name in seen:
        n += 1
        name = f"{base}-{n}"
    seen.add(name)
    return name


def collect(bench_or_name, folder: Path, prefix: str) -> str:
    """The Markdown of a benchmark's result files in ``folder``, made to sit in the page (see ``rework``)."""
    files = bench_or_name.results if isinstance(bench_or_name, Benchmark) else (bench_or_name,)
    name = bench_or_name.name if isinstance(bench_or_name, Benchmark) else bench_or_name.removesuffix(".md")
    parts = []
    for file in files:
        path = folder / file
        if path.suffix == ".md" and path.exists():
            parts.append(rework(path.read_text(encoding="utf-8"), folder, (f"{prefix}-{name}" if prefix else name).replace("_", "-")))
    return "\n".join(parts)


def rework(text: str, folder: Path, section: str) -> str:
    """A results file inside the page: its title dropped, headings two levels down, an anchor on every
    table row, images copied next to the page, links to other results files turned into their paths."""
    seen: set[str] = set()
    out, in_table, in_code = [], False, False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or line.startswith("```"):
            out.append(line)
            continue
        if line.startswith("# "):
            continue
        if line.startswith("#"):
            line = "##" + line
        if line.startswith("|"):
            cells = line.strip().strip("|").split("|")
            header_rule = all(re.fullmatch(r"\s*:?-{3,}:?\s*", c) for c in cells)
            if in_table and not header_rule and not re.fullmatch(r"\s*:?-{3,}:?\s*", cells[0]):
                name = anchor(section, cells[0], seen)
                line = f'| <a id="{name}"></a>{cells[0].strip()} |' + "|".join(cells[1:]) + "|"
            in_table = True
        else:
            in_table = False
        line = re.sub(r"!\[([^\]]*)\]\(([^)]+\.png)\)", lambda m: image(m, folder, section), line)
        line = re.sub(r"(?<!!)\[([^\]]+)\]\((?!https?:|#)([^)]+)\)", r"\1 (`benchmarks/results/\2`)", line)
        out.append(line)
    return "\n".join(out).strip() + "\n"


def image(match: re.Match, folder: Path, section: str) -> str:
    source = folder / match.group(2)
    if not source.exists():
        return match.group(1)
    IMAGES.mkdir(parents=True, exist_ok=True)
    target = IMAGES / f"{section}-{source.name}"
    shutil.copy2(source, target)
    return f"![{match.group(1)}](img/benchmarks/{target.name})"


def images_of(bench: Benchmark, folder: Path, section: str) -> str:
    """Plots the benchmark writes that its Markdown does not show itself."""
    lines = []
    for file in bench.results:
        if file.endswith(".png") and (folder / file).exists():
            md = "".join((folder / f).read_text(encoding="utf-8") for f in bench.results if f.endswith(".md")
                         and (folder / f).exists())
            if file not in md:
                lines.append(image(re.match(r"!\[(.*)\]\((.*)\)", f"![{file}]({file})"), folder, section))
    return "\n\n".join(lines) + ("\n" if lines else "")


def kept_sections(text: str) -> dict[str, str]:
    """The quick sections of the page as it is, by benchmark name, to keep those not run this time."""
    return {m.group(1): m.group(2) for m in re.finditer(r"<!-- quick:(\S+) -->\n(.*?)<!-- /quick:\1 -->", text, re.S)}


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        kib = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")))
        memory = f", {kib / 2**20:.0f} GiB memory"
    except (OSError, StopIteration, ValueError):
        pass
    versions = [f"Python {platform.python_version()}"]
    for module in ("torch", "transformers", "gensim", "tokenizers", "accelerate"):
        try:
            from importlib.metadata import version

            versions.append(f"{module} {version(module)}")
        except Exception:  # noqa: BLE001 - a missing package is just not listed
            pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return [f"- machine: {cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}",
            f"- versions: {', '.join(versions)}" + (f"; nlpzoo at commit `{commit}`" if commit else ""),
            ]


def section_text(bench: Benchmark, quick: str) -> str:
    lines = [f"## {bench.script} {{#{bench.name.replace('_', '-')}}}", "", f"Compares {bench.compares}.", ""]
    lines += [f"<!-- quick:{bench.name} -->", quick.rstrip() + "\n", f"<!-- /quick:{bench.name} -->", ""]
    reference = collect(bench, RESULTS, "")
    if reference:
        lines += [f"### Reference: `benchmarks/results/{bench.results[0]}`", "",
                  "The full-size run, as the script wrote it (command and conditions included):", "", reference]
        lines.append(images_of(bench, RESULTS, bench.name))
    return "\n".join(lines)


def quick_text(bench: Benchmark, result: dict) -> str:
    load = lambda l: ", ".join(f"{x:.2f}" for x in l)  # noqa: E731
    head = (f"### Quick run, {result['when']}\n\n{result['command']}: {result['status']}"
            f"{' (' + result['note'] + ')' if result['note'] else ''} in {result['seconds']:.0f} s; load average "
            f"(1, 5, 15 min) {load(result['load_before'])} before, {load(result['load_after'])} after.\n\n")
    return head + result["body"] + (images_of(bench, TREE / "benchmarks" / "results", f"quick-{bench.name}")
                                    if result["status"] == "ok" else "")


def not_run_text(bench: Benchmark, reason: str) -> str:
    return f"### Quick run\n\nNot run by `python -m benchmarks`: {reason}.\n"


def write_page(quick: dict[str, str], when: str, notes: list[str]) -> None:
    lines = ["# Benchmarks", "",
             "Every side-by-side benchmark of nlpzoo in one place: the same work done through nlpzoo and through "
             "the library used directly, in one run, with the ratio. Written by `python -m benchmarks --quick` "
             "(`benchmarks/__main__.py`); do not edit by hand. The scripts, their options and their full-size "
             "commands are in `benchmarks/README.md`.", "",
             f"Last written {when} on:", "", *machine(), *notes, "",
             "Each section has two parts. **Quick run**: the script at a size that fits CI's time (seconds to a "
             "few minutes on 2 cores), run by this command, with the load average around it; the figures are "
             "noisy and only say that the comparison still runs and roughly where it lands. **Reference**: the "
             "full-size result in `benchmarks/results/`, which the README quotes; every row has an anchor.", "",
             "| benchmark | compares | quick run |", "| --- | --- | --- |"]
    for bench in BENCHMARKS:
        state = "yes" if bench.quick is not None else "no: " + bench.why_not
        lines.append(f"| [{bench.script}](#{bench.name.replace('_', '-')}) | {bench.compares} | {state} |")
    lines.append("")
    for bench in BENCHMARKS:
        text = quick.get(bench.name) or not_run_text(bench, bench.why_not or "not run yet")
        lines.append(section_text(bench, text))
    for file, what in REFERENCE_ONLY:
        body = collect(file, RESULTS, "")
        if body:
            name = file.removesuffix(".md")
            lines += [f"## {file} {{#{name.replace('_', '-')}}}", "", f"The record of {what}.", "", body]
    text = "\n".join(lines).rstrip() + "\n"
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    tmp = PAGE.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, PAGE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run the benchmarks at their quick size (the default)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these benchmarks (script names, .py optional)")
    parser.add_argument("--report", action="store_true", help="write the page from what is there; run nothing")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and their quick arguments")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds each benchmark may take")
    args = parser.parse_args(argv)
    known = {b.name: b for b in BENCHMARKS}
    chosen = [known[n.removesuffix(".py")] for n in args.only or known if n.removesuffix(".py") in known]
    unknown = [n for n in args.only or () if n.removesuffix(".py") not in known]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; benchmarks: {', '.join(known)}")
    if args.list:
        for b in BENCHMARKS:
            print(f"{b.script:22} " + (" ".join(b.quick) if b.quick is not None else f"(not run: {b.why_not})"))
        return 0
    quick = kept_sections(PAGE.read_text(encoding="utf-8")) if PAGE.exists() else {}
    notes: list[str] = []
    if not args.report:
        make_tree()
        for bench in chosen:
            if bench.quick is None:
                continue
            if bench.needs and importlib.util.find_spec(bench.needs) is None:
                quick[bench.name] = not_run_text(bench, f"it needs `{bench.needs}`, which is not installed here "
                                                        "(see `benchmarks/README.md`)")
                continue
            print(f"{bench.script} ...", flush=True)
            result = run_quick(bench, args.timeout)
            print(f"{bench.script}: {result['status']} in {result['seconds']:.0f} s {result['note']}", flush=True)
            quick[bench.name] = quick_text(bench, result)
    write_page(quick, dt.datetime.now().strftime("%Y-%m-%d %H:%M"), notes)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
