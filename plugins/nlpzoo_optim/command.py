"""``nlpzoo schedule``: any scheduler's learning-rate curve, drawn before a run spends steps on it."""
from __future__ import annotations

import click

import nlpzoo
from nlpzoo.commands import Bounded, echo, example, read_spec
from nlpzoo.files import check_output, write_output


@click.command(epilog=example("nlpzoo schedule '{name: cosine-warmup, warmup: 0.1}' --steps 1000 --lr 3e-4 -o lr.png"))
@click.argument("spec")
@click.option("--steps", default=1000, show_default=True, type=Bounded(int, nlpzoo.Range(1, 10**6)),
              help="Total optimizer steps.")
@click.option("--lr", default=1e-3, show_default=True, type=Bounded(float, nlpzoo.Range(gt=0)), help="Base learning rate.")
@click.option("--output", "-o", default="lr.png", show_default=True, help="The PNG; - for standard output.")
@click.option("--parents", is_flag=True, help="Create the output's missing parent folders.")
def schedule(spec, steps, lr, output, parents):
    """Draw a learning-rate scheduler's curve over STEPS to a PNG."""
    from nlpzoo_training import curves_png, learning_rate_curve

    check_output(output, parents=parents)
    sched = nlpzoo.build(nlpzoo.resolve(read_spec(spec), "scheduler", "SPEC"))
    lrs = learning_rate_curve(sched, steps, lr)
    write_output(output, curves_png({"learning rate": lrs}, title=str(spec)[:80], xlabel="step"), parents=parents)
    message = f"lr from {lrs[0]:.3g} (first) to {lrs[-1]:.3g} (last), peak {max(lrs):.3g}"
    echo(f"wrote {output}: {message}" if output != "-" else message, err=output == "-")
