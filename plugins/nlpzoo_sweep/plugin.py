"""The ``nlpzoo sweep`` command. Optuna and the training stack load only when the command runs."""
import click

import nlpzoo
from nlpzoo.commands import example

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_commands(cli):
    @cli.command()
    @click.argument("recipe", required=False, type=click.Path(dir_okay=False))
    @click.option("--space", type=click.Path(dir_okay=False),
                  help="The search space (YAML: recipe keys to choices); default: the recipe's sweep: section.")
    @click.option("--trials", type=click.IntRange(1, 10**6), help="How many trials in all  [default: 20; grid: its size]")
    @click.option("--dir", "folder", type=click.Path(file_okay=False),
                  help="The sweep's folder: trials, best.yaml, sweep.html, the study  [default: sweeps/<recipe>]")
    @click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help="Override a recipe value (repeatable).")
    @click.option("--sampler", type=click.Choice(["tpe", "random", "grid"]), default="tpe", show_default=True)
    @click.option("--pruner", type=click.Choice(["none", "median", "halving"]), default="none", show_default=True,
                  help="Stop weak trials early from their validation evaluations.")
    @click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
                  help="The sampler's seed: the same seed draws the same trials (with one worker).")
    @click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
                  help="Trials at once on this machine, each in its own process.")
    @click.option("--storage", metavar="URL", help="Any Optuna storage: postgresql://..., mysql://..., sqlite:///..., "
                  "or journal:PATH for a journal file; machines given the same URL share the study  [default: DIR/sweep.db]")
    @click.option("--heartbeat", type=click.IntRange(1, 3600), default=10, show_default=True,
                  help="Seconds between a running trial's signs of life; silent for 3x this, it is failed and run again.")
    @click.option("--status", "status_of", type=click.Path(file_okay=False), metavar="DIR",
                  help="Print the trials of the sweep in DIR and stop.")
    def sweep(recipe, space, trials, folder, overrides, sampler, pruner, seed, workers, storage, heartbeat, status_of):
        """Search RECIPE's keys over a space with Optuna; every trial is a run folder under --dir.

        The objective is the recipe's train.metric on the validation split, its direction train.mode.
        Running the same command again continues the study; finished trials are not run again.
        """
        from pathlib import Path

        if status_of is not None:
            from .study import shown, status_table

            for line in status_table(Path(status_of)):
                click.echo(shown(line))
            return
        if recipe is None:
            raise click.UsageError("give a RECIPE to sweep, or --status DIR")
        from .space import read_space
        from .study import Sweep, run_sweep

        search = read_space(space) if space else read_space(recipe, section="sweep")
        checked = nlpzoo.load_recipe(recipe, overrides)
        if "dataset" not in checked.specs:
            raise nlpzoo.ConfigError("training needs a 'dataset' in the recipe", "dataset", file=recipe)
        from nlpzoo_training import TrainConfig

        config = TrainConfig(**checked.train)
        if trials is None:
            trials = search.grid_size() if sampler == "grid" else 20
        elif sampler == "grid" and trials > search.grid_size():
            raise nlpzoo.ConfigError(f"the grid has {search.grid_size()} points; ask for at most that many", "--trials")
        search.check(recipe, tuple(overrides))  # an impossible space stops here, before anything trains
        target = Path(folder) if folder else Path("sweeps") / Path(recipe).stem
        run_sweep(Sweep(recipe=recipe, space=search, folder=target, overrides=tuple(overrides), trials=trials,
                        sampler=sampler, pruner=pruner, seed=seed, storage=storage, heartbeat=heartbeat,
                        metric=config.metric, direction=config.direction), workers=workers)

    sweep.epilog = example("nlpzoo sweep recipes/lstm-classifier-rt.yaml --space space.yaml --trials 20 --dir sweeps/rt")
