"""The training engine joins nlpzoo as any plugin does: it reads the ``train:`` section of a recipe and
adds the commands of trained runs."""
import nlpzoo

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_sections(register):
    from .config import TrainConfig

    register("train", TrainConfig)


@nlpzoo.hookimpl
def register_commands(cli):
    from .commands import evaluate, generate, predict, sample, train

    for command in (train, evaluate, predict, generate, sample):
        cli.add_command(command)
