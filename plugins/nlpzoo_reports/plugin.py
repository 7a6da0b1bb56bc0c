"""Every run's page and model card, and the commands that show runs; through the hooks any plugin has."""
import nlpzoo

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_commands(cli):
    from .commands import compare, report, runs

    for command in (report, runs, compare):
        cli.add_command(command)


@nlpzoo.hookimpl
def model_saved(run_dir, model, data, metrics):
    """A classifier's, tagger's or regressor's model card, ``model/README.md``."""
    from .modelcard import write_model_card

    write_model_card(run_dir, model, metrics, data)


@nlpzoo.hookimpl
def run_finished(run_dir, model, data):
    """The texts a generative model writes for the page, then ``report.html``; each failure is a warning."""
    from .report import finish_run

    finish_run(run_dir, model, data)
