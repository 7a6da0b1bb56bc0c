"""A broken plugin never takes the others down; NLPZOO_PLUGINS and NLPZOO_STRICT control loading."""
import pytest

import nlpzoo
from nlpzoo.errors import PluginError
from nlpzoo.plugins import PluginManager, install_hint


class Good:
    @nlpzoo.hookimpl
    def register_components(self, register):
        register("scheduler", "good-flat", target="nlpzoo_optim.schedulers:Constant", summary="Flat.")


class ExplodesHalfway:
    @nlpzoo.hookimpl
    def register_components(self, register):
        register("scheduler", "half", target="nlpzoo_optim.schedulers:Constant", summary="Never kept.")
        raise RuntimeError("boom")


def test_a_plugin_that_fails_while_registering_leaves_nothing_behind(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(ExplodesHalfway(), "explodes")
    nlpzoo_isolated.add_plugin(Good(), "good")
    health = nlpzoo_isolated.health["explodes"]
    assert health.status == "failed" and "RuntimeError: boom" in health.error and health.components == 0
    assert nlpzoo_isolated.registry.names("scheduler") == ["good-flat"]


def test_strict_mode_turns_failures_into_errors(monkeypatch):
    monkeypatch.setenv("NLPZOO_STRICT", "1")
    manager = PluginManager()
    with pytest.raises(PluginError, match="plugin 'explodes' failed: RuntimeError: boom"):
        manager.add_plugin(ExplodesHalfway(), "explodes")


def test_nlpzoo_plugins_limits_what_loads(monkeypatch):
    monkeypatch.setenv("NLPZOO_PLUGINS", "optim")
    manager = PluginManager().load_entry_points()
    assert manager.health["optim"].status == "ok"
    others = [h for name, h in manager.health.items() if name != "optim"]
    assert others and all(h.status == "disabled" for h in others)
    assert {e.provider for e in manager.registry.all()} == {"optim"}


def test_every_first_party_plugin_loads_cleanly(monkeypatch):
    monkeypatch.setenv("NLPZOO_STRICT", "1")
    manager = PluginManager().load_entry_points()
    first_party = {n: h for n, h in manager.health.items() if h.distribution == "nlpzoo"}
    assert set(first_party) == {"optim", "datasets", "word2vec", "lstm", "bert", "dcgan", "augment", "transformer",
                                "textgan", "sweep", "starters", "reports", "training"}
    # each registers components, or commands (sweep, starters, reports, training)
    assert all(h.status == "ok" and (h.components > 0 or "register_commands" in h.hooks)
               for h in first_party.values()), first_party


def test_install_hints_name_the_extra_that_provides_a_missing_module():
    assert install_hint("gensim", "nlpzoo") == "pip install 'nlpzoo[word2vec]'"
    assert install_hint("transformers.models", "nlpzoo") == "pip install 'nlpzoo[bert]'"
    assert install_hint("sklearn") == "pip install scikit-learn"


class AddsACommand:
    @nlpzoo.hookimpl
    def register_commands(self, cli):
        import click

        @cli.command("hello-plugin")
        @click.argument("who")
        def hello(who):
            """Greets."""
            click.echo(f"hello {who}")


def test_plugins_can_add_cli_commands(nlpzoo_isolated):
    import click
    from click.testing import CliRunner

    group = click.Group("nlpzoo")
    nlpzoo_isolated.add_plugin(AddsACommand(), "greeter")
    nlpzoo_isolated.add_commands(group)
    result = CliRunner().invoke(group, ["hello-plugin", "world"])
    assert result.exit_code == 0 and result.output == "hello world\n"


def test_a_name_nothing_provides_points_at_the_plugin_that_failed(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(ExplodesHalfway(), "oops")
    with pytest.raises(nlpzoo.UnknownComponent, match=r"unknown augmenter 'oops'.*plugin 'oops' failed to load \(nlpzoo plugins says why\)"):
        nlpzoo.build("oops", "augmenter")


def test_an_empty_listing_says_which_plugin_failed(nlpzoo_isolated):
    from click.testing import CliRunner

    from nlpzoo.cli import cli

    nlpzoo_isolated.add_plugin(ExplodesHalfway(), "oops")
    result = CliRunner().invoke(cli, ["list", "oops*"])
    assert result.exit_code == 0 and "nothing matches 'oops*'" in result.stdout
    assert "nlpzoo: note: plugin 'oops' failed to load (nlpzoo plugins says why)" in result.stderr
