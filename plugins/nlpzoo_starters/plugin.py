"""``nlpzoo init`` and ``nlpzoo new-plugin``, added through the same hook a third party uses."""
import os
from pathlib import Path

import click

import nlpzoo
from nlpzoo.commands import example

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_commands(cli):
    from .starters import names

    @cli.command(epilog=example("nlpzoo init word2vec -o w2v.yaml"))
    @click.argument("task", required=False, type=click.Choice(names()))
    @click.option("--output", "-o", type=click.Path(dir_okay=False), help="Where to write the recipe (default TASK.yaml).")
    @click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
    def init(task, output, force):
        """Write a commented starter recipe for TASK; without TASK, list the tasks."""
        from nlpzoo.files import atomic_write

        from .starters import starters

        known = starters()
        if task is None:
            width = max(map(len, known))
            for name, starter in known.items():
                click.echo(f"{name:<{width}}  {starter.summary}")
            return
        output = output or f"{task}.yaml"
        if os.path.exists(output) and not force:
            raise nlpzoo.ConfigError("already exists; choose another --output or overwrite it with --force", file=output)
        atomic_write(output, known[task].recipe.replace("{file}", output))  # its commands name the file
        click.echo(f"wrote {output}: {known[task].summary}")
        click.echo(f"next: nlpzoo validate {output} && nlpzoo train {output}")

    @cli.command("new-plugin", epilog=example("nlpzoo new-plugin doubler --kind augmenter && pip install -e nlpzoo-doubler"))
    @click.argument("name")
    @click.option("--kind", "-k", default="augmenter", show_default=True,
                  help="The component to start from: augmenter, scheduler or classifier (a torch model on the shared loop).")
    @click.option("--dir", "folder", default=".", show_default=True, type=click.Path(file_okay=False),
                  help="Where to write nlpzoo-NAME/.")
    def new_plugin(name, kind, folder):
        """Write a working plugin package nlpzoo-NAME: entry point, one component, tests, README."""
        from .scaffold import new_plugin as write

        root = write(name, kind, Path(folder))
        click.echo(f"wrote {root}; next: pip install -e {root} && python -m pytest {root / 'tests'}")
