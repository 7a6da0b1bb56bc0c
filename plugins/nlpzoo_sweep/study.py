"""A sweep: an Optuna study whose trials are ordinary nlpzoo runs in one folder.

The folder holds ``sweep.json`` (what the sweep searches and where its study lives), ``sweep.db``
(the default storage), one run folder per trial (``trial-0000/``), ``best.yaml`` and ``sweep.html``.
Every process that runs the same command on the same storage joins the same study.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nlpzoo
from nlpzoo import ConfigError, NlpzooError

from .space import Space, as_overrides, recipe_value

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("none", "median", "halving")
SETTINGS = "sweep.json"


@dataclass
class Sweep:
    """What a sweep searches, and where; the same on every machine that joins it."""

    recipe: str
    space: Space
    folder: Path
    overrides: tuple[str, ...] = ()
    trials: int = 20
    sampler: str = "tpe"
    pruner: str = "none"
    seed: int = 0
    storage: str | None = None  # default: SQLite in the folder
    heartbeat: int = 10  # seconds; a trial silent for 3x this long was killed: marked failed, then retried
    metric: str = "loss"
    direction: str = "minimize"
    fingerprint: str = field(default="", init=False)

    def __post_init__(self):
        text = json.dumps(default=repr, obj=[Path(self.recipe).read_text(encoding="utf-8"), list(self.overrides),
                           [(p.key, p.choices, p.low, p.high, p.log, p.step, p.when) for p in self.space.params], self.metric, self.direction])
        self.fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def name(self) -> str:
        return self.folder.resolve().name

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.folder / 'sweep.db').resolve()}"

    def settings(self) -> dict:
        return {"recipe": str(self.recipe), "overrides": list(self.overrides), "storage": self.storage_url,
                "study": self.name, "metric": self.metric, "direction": self.direction, "sampler": self.sampler,
                "pruner": self.pruner, "seed": self.seed, "trials": self.trials, "fingerprint": self.fingerprint,
                "space": [p.key for p in self.space.params]}


# ---------------------------------------------------------------- the study


def open_storage(url: str, heartbeat: int | None = None):
    """Any storage Optuna takes: an SQLAlchemy URL (SQLite, PostgreSQL, MySQL) or a journal file
    (``journal:PATH`` or a path ending in ``.log``), shared by every worker of the sweep."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    if is_journal(url):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(5):
        try:
            with warnings.catch_warnings():  # the heartbeat is marked experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                extra = {}
                if heartbeat:  # a killed worker's trial is failed by the others after grace_period, then run again once
                    extra = dict(heartbeat_interval=heartbeat, grace_period=3 * heartbeat,
                                 heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1))
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, **extra)
        except ImportError as exc:  # the database's driver
            raise nlpzoo.MissingDependency(f"--storage {url.split(':')[0]} needs a driver: {exc}; "
                                           "for PostgreSQL: pip install 'nlpzoo[sweep]'") from None
        except Exception as exc:  # noqa: BLE001 - sqlalchemy's errors: a wrong URL, an unreachable server
            if ("already exists" in str(exc) or "duplicate key" in str(exc)) and attempt < 4:
                time.sleep(1 + attempt)  # workers that start together race to make the tables: the loser retries
                continue
            raise ConfigError(f"cannot open the storage: {str(exc).splitlines()[0]}", "--storage") from None


def is_journal(url: str) -> bool:
    """A journal file: shared through a file system, without heartbeats (a killed worker goes unnoticed)."""
    return url.startswith("journal:") or url.endswith(".log")


def sampler_for(sweep: Sweep, worker: int = 0):
    import optuna

    seed = sweep.seed + worker  # workers that started together must not draw the same trials
    if sweep.sampler == "grid":
        return optuna.samplers.GridSampler(sweep.space.grid(), seed=seed)
    if sweep.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def pruner_for(name: str):
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    return optuna.pruners.NopPruner()


def load_study(sweep: Sweep, worker: int = 0):
    """The sweep's study, made on first use; a folder holding another sweep's study is refused."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # progress lines say what happened
    storage = open_storage(sweep.storage_url, sweep.heartbeat)
    study = optuna.create_study(storage=storage, study_name=sweep.name, direction=sweep.direction,
                                sampler=sampler_for(sweep, worker), pruner=pruner_for(sweep.pruner), load_if_exists=True)
    started = study.user_attrs.get("fingerprint")
    if started is None:
        study.set_user_attr("fingerprint", sweep.fingerprint)
        study.set_user_attr("settings", sweep.settings())
    elif started != sweep.fingerprint:
        raise ConfigError(f"the study {sweep.name!r} in {sweep.storage_url} was started with another recipe, --set or "
                          "space; continue it with the same ones, or choose another --dir", "--dir")
    return study


def budget_left(study, trials: int) -> int:
    """Trials still to start: finished, pruned, running, queued and failed-for-a-reason ones count; a trial
    failed because its worker died does not (it is queued again)."""
    from optuna.trial import TrialState

    taken = 0
    for t in study.get_trials(deepcopy=False):
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING):
            taken += 1
        elif t.state == TrialState.FAIL and "error" in t.user_attrs:
            taken += 1
    return trials - taken


# ---------------------------------------------------------------- one trial


class ReportEvaluations(nlpzoo.Callback):
    """Hands each validation evaluation to the Optuna trial; stops the run when the pruner says so."""

    def __init__(self, trial, metric: str):
        self.trial, self.metric = trial, metric
        self.evaluations = 0
        self.pruned_at: int | None = None

    def on_evaluate(self, run, step, metrics):
        value = metrics.get(f"val_{self.metric}")
        if value is None or self.pruned_at is not None:
            return
        self.evaluations += 1  # pruners compare trials at the same evaluation, whatever their batch size
        self.trial.report(float(value), self.evaluations)
        if self.trial.should_prune():
            self.pruned_at = self.evaluations
            run.request_stop()  # the run ends normally: evaluated, saved, reported


def trial_folder(sweep: Sweep, number: int) -> Path:
    return sweep.folder / f"trial-{number:04d}"


def run_trial(sweep: Sweep, trial) -> float:
    """Build the trial's recipe, check it, train it in its own run folder; the validation score."""
    import optuna

    from nlpzoo.files import atomic_write
    from nlpzoo_training import train_recipe

    values = sweep.space.suggest(trial)
    folder = trial_folder(sweep, trial.number)
    trial.set_user_attr("run", folder.name)
    trial.set_user_attr("values", {k: recipe_value(v) for k, v in values.items()})
    shown = " ".join(f"{k}={recipe_value(round_for_eyes(v))}" for k, v in values.items())
    say(f"trial {trial.number} started: {shown}")
    started = time.time()
    try:
        recipe = nlpzoo.load_recipe(sweep.recipe, (*sweep.overrides, *as_overrides(values)))
        for slot in recipe.specs:  # constructors check their values: a bad trial fails here, not mid-training
            recipe.build(slot)
        report = ReportEvaluations(trial, sweep.metric)
        folder.mkdir(parents=True, exist_ok=True)
        with _quiet(folder / "train.log"):
            metrics = train_recipe(recipe, folder, callbacks=[report])
    except NlpzooError as exc:
        trial.set_user_attr("error", str(exc))
        say(f"trial {trial.number} failed: {exc}")
        raise
    seconds = time.time() - started
    trial.set_user_attr("seconds", round(seconds, 3))
    value = metrics.get(f"val_{sweep.metric}")
    if value is None:
        message = f"the run reported no val_{sweep.metric}; it reports: {', '.join(metrics)}"
        trial.set_user_attr("error", message)
        raise ConfigError(message, "train.metric")
    if report.pruned_at is not None:
        info = json.loads((folder / "run.json").read_text())
        atomic_write(folder / "run.json", json.dumps({**info, "status": "pruned"}, indent=1))
        say(f"trial {trial.number} pruned after evaluation {report.pruned_at}: val_{sweep.metric} {value:.4f} "
            f"({seconds:.1f} s)")
        raise optuna.TrialPruned()
    say(f"trial {trial.number} finished: val_{sweep.metric} {value:.4f} ({seconds:.1f} s)")
    return float(value)


@contextlib.contextmanager
def _quiet(log: Path):
    """A trial's own output (confusion matrices, warnings) goes to its folder, not between the progress lines."""
    with open(log, "a", encoding="utf-8") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        yield


def round_for_eyes(value):
    """Four significant digits for a float in a progress line; the run's recipe keeps every digit."""
    return float(f"{value:.4g}") if isinstance(value, float) else value


def say(line: str) -> None:
    """A progress line: plain text, flushed at once, readable in a log file or a CI console."""
    print(f"{time.strftime('%H:%M:%S')} {shown(line)}", flush=True)


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


def shown(text: str) -> str:
    """``text`` for a terminal: control characters from a space file or a recipe written as ``\\xNN``, not obeyed."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


# ---------------------------------------------------------------- workers


def work(sweep: Sweep, worker: int = 0) -> None:
    """Run trials of the shared study until its budget is spent (or the grid is exhausted) and no trial is
    left running: a trial whose worker died goes stale, is marked failed and is run again here."""
    import optuna

    study = load_study(sweep, worker)
    while True:
        waiting = _count(study, "WAITING")
        if waiting or budget_left(study, sweep.trials) > 0 and not _grid_done(study, sweep):
            study.optimize(lambda trial: run_trial(sweep, trial), n_trials=1, catch=(NlpzooError,),
                           gc_after_trial=True)
            _after_trial(sweep, study)
        elif _count(study, "RUNNING") and not is_journal(sweep.storage_url):  # elsewhere, or killed: until it ends or goes stale
            time.sleep(sweep.heartbeat)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
        else:
            break


def _count(study, state: str) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState[state],)))


def _grid_done(study, sweep: Sweep) -> bool:
    from optuna.trial import TrialState

    if sweep.sampler != "grid":
        return False
    done = {json.dumps(t.params, sort_keys=True) for t in study.get_trials(deepcopy=False)
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)}
    return len(done) >= sweep.space.grid_size()


def _after_trial(sweep: Sweep, study) -> None:
    """``best.yaml`` and ``sweep.html`` after every trial, so a stopped sweep has both."""
    from .page import write_page

    write_best(sweep, study)
    write_page(sweep.folder, study)


def write_best(sweep: Sweep, study) -> Path | None:
    """The best finished trial's full recipe, as its run saved it: ``nlpzoo train best.yaml`` trains it again."""
    from optuna.trial import TrialState

    from nlpzoo.files import atomic_write

    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        return None
    best = study.best_trial
    saved = sweep.folder / best.user_attrs["run"] / "recipe.yaml"
    if not saved.exists():
        return None
    head = (f"# The best trial of the sweep in {sweep.folder}: trial {best.number}, val_{sweep.metric} {best.value:.6g}\n"
            f"# Values it took: " + ", ".join(f"{k}={v}" for k, v in best.user_attrs.get("values", {}).items()) + "\n")
    path = sweep.folder / "best.yaml"
    atomic_write(path, head + saved.read_text(encoding="utf-8"))
    return path


def run_sweep(sweep: Sweep, workers: int = 1) -> None:
    """The sweep with ``workers`` processes on this machine (each runs one trial at a time)."""
    from nlpzoo.files import atomic_write

    sweep.folder.mkdir(parents=True, exist_ok=True)
    study = load_study(sweep)  # made once here, so workers that start together find it
    atomic_write(sweep.folder / SETTINGS, json.dumps(sweep.settings(), indent=1))
    left = budget_left(study, sweep.trials)
    say(f"sweep {sweep.name}: {sweep.trials} trials ({sweep.trials - left} done or under way), sampler {sweep.sampler}, "
        f"pruner {sweep.pruner}, objective val_{sweep.metric} ({sweep.direction}), storage {sweep.storage_url}")
    if workers == 1:
        work(sweep)
    else:
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no torch state shared between trials
        procs = [context.Process(target=work, args=(sweep, i)) for i in range(workers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        failed = [p.exitcode for p in procs if p.exitcode]
        if failed:
            raise NlpzooError(f"{len(failed)} worker(s) stopped with exit codes {failed}; run the same command to continue")
    study = load_study(sweep)
    _after_trial(sweep, study)
    print_summary(sweep, study)


def print_summary(sweep: Sweep, study) -> None:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    say("sweep done: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    if (sweep.folder / "best.yaml").exists():
        best = study.best_trial
        say(f"best: trial {best.number}, val_{sweep.metric} {best.value:.4f}; recipe {sweep.folder / 'best.yaml'}")
    say(f"page: {sweep.folder / 'sweep.html'}")


# ---------------------------------------------------------------- reading a sweep back


def open_sweep_study(folder: Path):
    """The study of the sweep in ``folder`` (from its ``sweep.json``), for ``--status`` and the page."""
    import optuna

    path = folder / SETTINGS
    if not path.exists():
        raise ConfigError(f"no sweep here (no {SETTINGS}); start one with nlpzoo sweep RECIPE --dir {folder}", file=str(folder))
    settings = json.loads(path.read_text())
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # progress lines say what happened
    study = optuna.load_study(study_name=settings["study"], storage=open_storage(settings["storage"]))
    return settings, study


def status_table(folder: Path) -> list[str]:
    """One line per trial: number, state, value, seconds, run folder, the values it took (floats to 4 digits)."""
    from .page import seconds_text, short

    settings, study = open_sweep_study(folder)
    rows = [("trial", "state", f"val_{settings['metric']}", "seconds", "run", "values")]
    best = None
    for t in study.get_trials(deepcopy=False):
        value = "-" if t.value is None else f"{t.value:.4f}"
        values = " ".join(f"{k}={short(v)}" for k, v in t.user_attrs.get("values", {}).items())
        rows.append((str(t.number), t.state.name.lower(), value, seconds_text(t.user_attrs.get("seconds")),
                     t.user_attrs.get("run", "-"), values))
        if t.state.name == "COMPLETE" and (best is None or (t.value < best.value if settings["direction"] == "minimize"
                                                            else t.value > best.value)):
            best = t
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5] for r in rows]
    done = sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished())
    lines.append(f"{done} of {settings['trials']} trials finished" +
                 (f"; best: trial {best.number}, val_{settings['metric']} {best.value:.4f}" if best else ""))
    return [line.rstrip() for line in lines]
