"""nlpzoo on one GPU, side by side with the libraries used directly: one script, a few minutes.

    PYTHONUNBUFFERED=1 python benchmarks/gpu_check.py [--seeds 3] [--budget 330] 2>&1 | tee gpu_check.log

Without CUDA it writes that it did not run and exits 0. ``--device cpu --quick`` runs every part on the
CPU with tiny settings, to check the script itself before a GPU is at hand. Parts, in one process tree:

1. ``nlpzoo plugins`` and ``nlpzoo list`` (subprocesses);
2. BERT (the packaged MiniLM) on the Rotten Tomatoes split of seed 0 against the transformers ``Trainer``,
   same settings (bf16, batch 32, lr 5e-5, 3 epochs, 6 % warmup, max length 128): the Trainer; nlpzoo given
   the Trainer's exact random batches; nlpzoo's default recipe (length-sorted batches; without EDA unless
   WordNet is installed); nlpzoo's default recipe with ``pad_to_multiple_of: 16`` and
   ``train.compile: reduce-overhead`` (a few padded shapes captured as CUDA graphs). Training
   examples/s (training time only, the same definition on both sides), wall time and test accuracy,
   over ``--seeds`` seeds while the time budget lasts;
3. one short run of every recipe in recipes/ (``--set train.max_steps=20``);
4. a run killed with SIGKILL after its first checkpoint, resumed, and compared with an uninterrupted one;
5. inference on 10,000 texts: ``nlpzoo``'s predict against ``transformers.pipeline(device=0)``, and the
   saved model loaded by the pipeline on the GPU;
6. a profile of one BERT training step, eager and compiled: kernel launches and the slowest operators;
7. hub kernels: the packaged MiniLM trained 20 steps with ``hub_kernels`` off (the default: nothing is
   fetched) and on (transformers kernelizes layers from the Hugging Face hub when the model enters
   training mode on a GPU; without a network that fails, and the line says how).

Writes benchmarks/results/gpu_check.md (device, versions, every figure); ``--quick`` writes
benchmarks/out/gpu_check_quick.md instead (a check of the script, not a result).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
RESULTS = HERE / "results"
BATCH, MAX_LENGTH, LR, EPOCHS, WARMUP = 32, 128, 5e-5, 3, 0.06


class Check:
    """The figures of one run of this script, and the time left."""

    def __init__(self, args):
        self.args, self.started = args, time.monotonic()
        self.lines: list[str] = []
        self.scratch = Path(tempfile.mkdtemp(prefix="nlpzoo-gpu-check-"))

    def left(self) -> float:
        return self.args.budget - (time.monotonic() - self.started)

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def nlpzoo(self, *argv: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "nlpzoo.cli", *argv], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **(env or {})})


def versions() -> str:
    import accelerate
    import torch
    import transformers

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (f"{gpu}; torch {torch.__version__} (CUDA {torch.version.cuda}), transformers {transformers.__version__}, "
            f"accelerate {accelerate.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPU cores")


# ---------------------------------------------------------------- 1. the command line


def part_cli(check: Check) -> None:
    check.say("## 1. `nlpzoo plugins` and `nlpzoo list`\n")
    for argv in (["plugins"], ["list"]):
        t0 = time.perf_counter()
        out = check.nlpzoo(*argv, timeout=120)
        seconds = time.perf_counter() - t0
        failed = [line for line in out.stdout.splitlines() if " failed " in line]
        state = "ok" if out.returncode == 0 and not failed else f"exit {out.returncode}; {'; '.join(failed) or out.stderr[-300:]}"
        check.say(f"- `nlpzoo {' '.join(argv)}`: {state}, {seconds:.2f} s, {len(out.stdout.splitlines())} lines")
    check.say()


# ---------------------------------------------------------------- 2. BERT against the Trainer


def trainer_run(check: Check, seed: int, data: dict) -> dict:
    from _bert_common import TrainerBaseline

    steps = 20 if check.args.quick else -1
    base = TrainerBaseline(data, seed=seed, lr=LR, epochs=EPOCHS, batch_size=BATCH, warmup=WARMUP, bf16=True,
                           max_length=MAX_LENGTH, max_steps=steps, device=check.args.device)
    t0 = time.perf_counter()
    out = base.train()
    return {"examples_per_s": out["examples_per_s"], "train_s": out["seconds"], "accuracy": base.test_accuracy(),
            "wall_s": time.perf_counter() - t0}


NLPZOO_SETTINGS = {  # the Trainer's settings, in recipe overrides
    "same batches": ["augment=null", "model.sort_by_length=false", "train.precision=bf16", f"train.batch_size={BATCH}",
                     f"train.epochs={EPOCHS}", f"optimizer.lr={LR}", f"scheduler.warmup={WARMUP}",
                     f"model.max_length={MAX_LENGTH}"],
    "default recipe": [],
    "default recipe, compiled": ["model.pad_to_multiple_of=16", "train.compile=reduce-overhead"],
}


def nlpzoo_run(check: Check, seed: int, name: str) -> dict:
    overrides = [f"seed={seed}", "dataset.seed=0", "train.progress=false", "train.plots=false",
                 *NLPZOO_SETTINGS[name], f"train.device={check.args.device}"]
    if name != "same batches" and not wordnet_installed():
        overrides.append("augment=null")
    if check.args.quick:
        overrides += ["train.max_steps=20", "train.compile=none"]
    run_dir = check.scratch / f"bert-{name.replace(' ', '-').replace(',', '')}-{seed}"
    t0 = time.perf_counter()
    out = check.nlpzoo("train", str(ROOT / "recipes" / "bert-rotten-tomatoes.yaml"), "--run-dir", str(run_dir),
                       *[x for o in overrides for x in ("--set", o)], timeout=max(60, check.left()))
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"nlpzoo train ({name}) failed: {out.stderr.strip()[-500:]}")
    info = json.loads((run_dir / "run.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {"examples_per_s": info.get("train_examples_per_s", float("nan")), "train_s": info.get("train_seconds"),
            "accuracy": metrics["test_accuracy"], "wall_s": wall, "peak_mb": metrics.get("peak_gpu_memory_mb")}


def wordnet_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("wn") is not None


def part_bert(check: Check) -> None:
    from _bert_common import in_nlpzoo_batch_order, rotten_tomatoes

    check.say("## 2. BERT fine-tuning: nlpzoo against the transformers Trainer\n")
    data = rotten_tomatoes(seed=0)
    check.say(f"Split of seed 0: {len(data['train'])} training, {len(data['test'])} test snippets. "
              f"EDA in the default recipe: {'on' if wordnet_installed() else 'off (WordNet not installed)'}.\n")
    sides = ["Trainer", *NLPZOO_SETTINGS]
    results: dict[str, list[dict]] = {s: [] for s in sides}
    for seed in range(check.args.seeds):
        if seed and check.left() < 150:
            check.say(f"(stopped after {seed} seed(s): {check.left():.0f} s of the budget left)\n")
            break
        ordered = {**data, "train": in_nlpzoo_batch_order(data["train"], BATCH)}  # nlpzoo's random batches, in order
        for side in sides:
            try:
                r = trainer_run(check, seed, ordered) if side == "Trainer" else nlpzoo_run(check, seed, side)
            except Exception as exc:  # a failing side is a finding, not the end of the check
                check.say(f"- seed {seed}, {side}: FAILED: {exc}")
                continue
            results[side].append(r)
            check.say(f"- seed {seed}, {side}: {r['examples_per_s']:.0f} ex/s, training {r['train_s']:.1f} s, "
                      f"wall {r['wall_s']:.1f} s, test accuracy {r['accuracy']:.4f}")
    check.say("\n| side | runs | training examples/s | ratio to Trainer | training s | wall s | test accuracy (mean, sd) |")
    check.say("|---|---:|---:|---:|---:|---:|---|")
    base = statistics.median(r["examples_per_s"] for r in results["Trainer"]) if results["Trainer"] else float("nan")
    for side in sides:
        rs = results[side]
        if not rs:
            check.say(f"| {side} | 0 | | | | | |")
            continue
        eps = statistics.median(r["examples_per_s"] for r in rs)
        accs = [r["accuracy"] for r in rs]
        sd = statistics.stdev(accs) if len(accs) > 1 else float("nan")
        check.say(f"| {side} | {len(rs)} | {eps:.0f} | {eps / base:.2f}x | {statistics.median(r['train_s'] or 0 for r in rs):.1f} "
                  f"| {statistics.median(r['wall_s'] for r in rs):.1f} | {statistics.mean(accs):.4f} ({sd:.4f}) |")
    check.say("\nTargets: same batches at least 1.5x the Trainer, the default recipe at least 2.5x, accuracy within "
              "the seed spread.\n")


# ---------------------------------------------------------------- 3. every recipe, briefly


def part_recipes(check: Check) -> None:
    check.say("## 3. A short run of every recipe\n")
    for recipe in sorted((ROOT / "recipes").glob("*.yaml")):
        if check.left() < 60:
            check.say(f"- {recipe.name}: skipped (budget)")
            continue
        run_dir = check.scratch / f"short-{recipe.stem}"
        overrides = ["train.max_steps=20", "train.progress=false", f"train.device={check.args.device}"]
        if not wordnet_installed():
            overrides.append("augment=null")
        t0 = time.perf_counter()
        out = check.nlpzoo("train", str(recipe), "--run-dir", str(run_dir), *[x for o in overrides for x in ("--set", o)],
                           timeout=max(60, check.left()))
        seconds = time.perf_counter() - t0
        if out.returncode != 0:
            check.say(f"- {recipe.name}: FAILED in {seconds:.0f} s: {out.stderr.strip().splitlines()[-1:]}")
            continue
        info = json.loads((run_dir / "run.json").read_text())
        shown = {k: round(v, 4) for k, v in list(json.loads((run_dir / "metrics.json").read_text()).items())[:3]}
        check.say(f"- {recipe.name}: ok in {seconds:.0f} s on {info.get('device', '-')}: {shown}")
    check.say()


# ---------------------------------------------------------------- 4. killed and resumed


def part_resume(check: Check) -> None:
    check.say("## 4. SIGKILL after the first checkpoint, then --resume\n")
    recipe = str(ROOT / "recipes" / "lstm-classifier-rt.yaml")
    settings = ["--set", "train.epochs=2", "--set", "train.progress=false", "--set", f"train.device={check.args.device}",
                "--set", "train.checkpoint_every=20"]
    whole, killed = check.scratch / "resume-whole", check.scratch / "resume-killed"
    out = check.nlpzoo("train", recipe, "--run-dir", str(whole), *settings, timeout=max(60, check.left()))
    if out.returncode != 0:
        check.say(f"uninterrupted run FAILED: {out.stderr.strip()[-300:]}\n")
        return
    proc = subprocess.Popen([sys.executable, "-m", "nlpzoo.cli", "train", recipe, "--run-dir", str(killed), *settings],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pointer = killed / "checkpoints" / "latest.json"
    while proc.poll() is None and not pointer.exists():
        time.sleep(0.2)
    at = json.loads(pointer.read_text())["step"] if pointer.exists() else None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out = check.nlpzoo("train", recipe, "--run-dir", str(killed), "--resume", *settings, timeout=max(60, check.left()))
    if out.returncode != 0:
        check.say(f"resume FAILED: {out.stderr.strip()[-300:]}\n")
        return
    a = json.loads((whole / "metrics.json").read_text())
    b = json.loads((killed / "metrics.json").read_text())
    same = {k: a[k] == b.get(k) for k in a if not k.startswith("peak_")}
    shown = ", ".join(f"{k} {a[k]:.4f} / {b[k]:.4f}" for k in list(same)[:3] if k in b)
    check.say(f"Killed at step {at}; the resumed run's metrics equal the uninterrupted run's: {all(same.values())} "
              f"({shown})\n")


# ---------------------------------------------------------------- 5. inference


def part_inference(check: Check) -> None:
    import torch
    from transformers import pipeline

    from _bert_common import rotten_tomatoes

    check.say("## 5. Inference on 10,000 texts\n")
    run_dir = next((p for p in sorted(check.scratch.glob("bert-default-recipe-*"))), None)
    if run_dir is None:
        check.say("no trained BERT run from part 2: skipped\n")
        return
    import nlpzoo

    data = rotten_tomatoes(seed=0)
    texts = [ex["text"] for ex in (data["train"] + data["validation"] + data["test"])]
    texts = (texts * (10_000 // len(texts) + 1))[: 200 if check.args.quick else 10_000]
    model = nlpzoo.open_run(run_dir).model
    model.model.to(check.args.device)
    device = 0 if check.args.device.startswith("cuda") else -1
    pipe = pipeline("text-classification", model=str(run_dir / "model"), device=device, top_k=None)
    timings: dict[str, list[float]] = {"nlpzoo": [], "pipeline": []}
    for _ in range(2):  # alternating, the second round counts
        for side in timings:
            if device == 0:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            if side == "nlpzoo":
                ours = model.predict(texts)
            else:
                theirs = pipe(texts, batch_size=64, truncation=True)
            timings[side].append(time.perf_counter() - t0)
    agree = sum(o["label"] == max(t, key=lambda d: d["score"])["label"] for o, t in zip(ours, theirs)) / len(texts)
    a, b = len(texts) / timings["nlpzoo"][-1], len(texts) / timings["pipeline"][-1]
    check.say(f"nlpzoo predict {a:.0f} texts/s, transformers.pipeline(device={device}) {b:.0f} texts/s: {a / b:.2f}x; "
              f"the saved model loads in the pipeline on the device; labels agree on {agree:.2%} of texts\n")


# ---------------------------------------------------------------- 6. one step, profiled


def part_profile(check: Check) -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from _bert_common import minilm_folder

    check.say("## 6. One BERT training step, profiled (batch 32 x 64 tokens)\n")
    from transformers import AutoModelForSequenceClassification

    device = torch.device(check.args.device)
    model = AutoModelForSequenceClassification.from_pretrained(minilm_folder(), num_labels=2).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, fused=device.type == "cuda")
    ids = torch.randint(1000, 2000, (BATCH, 64), device=device)
    mask, labels = torch.ones_like(ids), torch.randint(0, 2, (BATCH,), device=device)

    def step(net):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = net(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    variants = [("eager", model)]
    if device.type == "cuda" and not check.args.quick:
        variants.append(("compiled, reduce-overhead", torch.compile(model, mode="reduce-overhead")))
    for name, net in variants:
        for _ in range(5):  # warm-up (and compilation)
            step(net)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(20):
            step(net)
        if device.type == "cuda":
            torch.cuda.synchronize()
        per_step = (time.perf_counter() - t0) / 20
        with profile(activities=activities) as prof:
            step(net)
            if device.type == "cuda":
                torch.cuda.synchronize()
        events = prof.key_averages()
        launches = sum(e.count for e in events if e.key.startswith(("cudaLaunchKernel", "cuLaunchKernel", "cudaGraphLaunch")))
        key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        top = sorted(events, key=lambda e: getattr(e, key, 0), reverse=True)[:8]
        check.say(f"**{name}**: {per_step * 1000:.1f} ms a step, {launches} kernel launches in one step. Slowest:")
        for e in top:
            check.say(f"- `{e.key[:60]}`: {getattr(e, key, 0) / 1000:.2f} ms, {e.count} calls")
        check.say()


# ---------------------------------------------------------------- 7. hub kernels


def part_kernels(check: Check) -> None:
    import nlpzoo
    from nlpzoo_training import Run

    from _bert_common import rotten_tomatoes

    check.say("## 7. Hub kernels off and on (20 steps of the packaged MiniLM)\n")
    data = {split: examples[:256] for split, examples in rotten_tomatoes(seed=0).items()}
    for hub_kernels in (False, True):
        model = nlpzoo.build({"name": "minilm-l6", "hub_kernels": hub_kernels}, "classifier")
        train = {"epochs": 1, "batch_size": BATCH, "max_steps": 4 if check.args.quick else 20, "progress": False,
                 "plots": False, "keep_best": False, "device": check.args.device}
        run = Run.standalone(check.scratch / f"kernels-{hub_kernels}", seed=0, train=train,
                             optimizer={"name": "adamw", "lr": LR})
        t0 = time.perf_counter()
        try:
            metrics = model.fit(data, run)
            outcome = f"trained in {time.perf_counter() - t0:.1f} s, val_accuracy {metrics['val_accuracy']:.3f}"
        except Exception as exc:  # the hub is out of reach on the reference machine: say how it failed
            outcome = f"failed after {time.perf_counter() - t0:.1f} s: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        used = getattr(model.model, "use_kernels", "n/a") if model.model is not None else "n/a"
        check.say(f"- `hub_kernels: {str(hub_kernels).lower()}`: model.use_kernels {used}; {outcome}")
    check.say()


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=330.0, help="seconds for the whole check (seeds stop early)")
    parser.add_argument("--quick", action="store_true", help="tiny settings, to try the script on a CPU")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    # a --quick check of the script is not a result: it goes to the ignored benchmarks/out/
    output = Path(args.output or (RESULTS / "gpu_check.md" if not args.quick else HERE / "out" / "gpu_check_quick.md"))

    import torch

    check = Check(args)
    check.say("# nlpzoo on a GPU: side by side with the libraries used directly\n")
    check.say(f"Command: `{' '.join(['python benchmarks/gpu_check.py', *sys.argv[1:]])}`  ")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        check.say(f"No CUDA device here (torch {torch.__version__}, built with CUDA {torch.version.cuda}): nothing was "
                  "measured. Run this script on a machine with a GPU; `--device cpu --quick` checks the script itself.")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("\n".join(check.lines) + "\n", encoding="utf-8")
        return 0
    check.say(f"Machine: {versions()}; {time.strftime('%Y-%m-%d %H:%M')}\n")
    try:
        for part in (part_cli, part_bert, part_recipes, part_resume, part_inference, part_profile, part_kernels):
            try:
                part(check)
            except Exception as exc:  # report and go on: one broken part must not hide the others
                check.say(f"{part.__name__} FAILED: {type(exc).__name__}: {exc}\n")
        check.say(f"Whole check: {time.monotonic() - check.started:.0f} s.")
    finally:
        shutil.rmtree(check.scratch, ignore_errors=True)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("\n".join(check.lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
