"""Every run's page, written when a run finishes, and the commands that show runs; through the hooks any plugin has."""
import nlpzoo

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_commands(cli):
    from .commands import compare, report, runs

    for command in (report, runs, compare):
        cli.add_command(command)


@nlpzoo.hookimpl
def run_finished(run_dir, model, data):
    """The texts a generative model writes for the page, then ``report.html``; each failure is a warning."""
    from .report import finish_run

    finish_run(run_dir, model, data)
