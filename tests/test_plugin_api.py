"""Writing a plugin: the public API the first-party plugins live by, names that never break a recipe,
mistakes explained at the author's line, and a plugin that cannot take the zoo down."""
from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

import nlpzoo
from nlpzoo.config import check_targets
from nlpzoo.errors import AmbiguousName, UnknownComponent
from nlpzoo.plugins import PluginHealth, PluginManager

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ("nlpzoo", "nlpzoo.commands", "nlpzoo.files", "nlpzoo.metrics", "nlpzoo.runs", "nlpzoo_training",
          "nlpzoo_training.tokenization", "nlpzoo.rng")
#: The internal core names the training engine still uses (it writes and locks run folders, reports errors at
#: recipe lines, checks its section). Everything else it takes from the public API. This set only shrinks.
ENGINE_INTERNALS = {
    "nlpzoo.config": {"check_params", "check_value"}, "nlpzoo.errors": {"PLACE_NOTE", "located"},
    "nlpzoo.kinds": {"Component", "classification_scores", "model_input"},
    "nlpzoo.plugins": {"get_catalog", "get_manager"}, "nlpzoo.recipe": {"check_recipe"},
    "nlpzoo.runs": {"LOCK_FILE", "MAX_RUN_FILE", "model_digest"},
    "nlpzoo.text": {"printable"}, "nlpzoo.yamlio": {"WriteError", "parse_yaml", "write_failure"},
}
HOSTILE = "tests/plugins/nlpzoo-hostile-plugin"


# ---------------------------------------------------------------- one public API, and the plugins held to it


def public_names() -> dict[str, set[str]]:
    """Public means: the module is documented in docs/reference/ and the name is in its ``__all__``."""
    reference = "\n".join(p.read_text() for p in (ROOT / "docs" / "reference").glob("*.md"))
    out = {}
    for module in PUBLIC:
        assert f"`{module}`" in reference, f"{module} is public but not documented in docs/reference/"
        out[module] = set(importlib.import_module(module).__all__)
    return out


def core_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """``(line, module, name)`` for every use of a core name in a file: imports and ``nlpzoo.x`` attributes."""
    tree = ast.parse(path.read_text(), str(path))
    found, bound = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "nlpzoo":
                    found.append((node.lineno, alias.name, None))
                    bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "nlpzoo"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "nlpzoo" and node.level == 0:
            for alias in node.names:
                found.append((node.lineno, node.module, alias.name))
    for node in ast.walk(tree):  # nlpzoo.kinds.X through a bare `import nlpzoo`
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            found.append((node.lineno, bound[node.value.id], node.attr))
    return found


#: plugins, the example plugin and the benchmarks: code written as a third party would write it
PLUGIN_FILES = sorted([*(ROOT / "plugins").rglob("*.py"), *(ROOT / "docs" / "examples").rglob("*.py"),
                       *(ROOT / "benchmarks").rglob("*.py")])


def test_plugins_the_example_and_the_benchmarks_import_only_public_documented_core_names():
    public = public_names()
    wrong = []
    for path in PLUGIN_FILES:
        for line, module, name in core_imports(path):
            rel = f"{path.relative_to(ROOT)}:{line}"
            if module not in public:
                wrong.append(f"{rel}: {module} is not a public module ({', '.join(PUBLIC)})")
            elif name is not None and name not in public[module] and f"{module}.{name}" not in public:
                wrong.append(f"{rel}: {module}.{name} is not in {module}.__all__")
    assert not wrong, "\n".join(wrong)


def test_the_training_engine_reaches_past_the_public_api_only_where_listed():
    public = public_names()
    used: dict[str, set[str]] = {}
    for path in sorted((ROOT / "core" / "nlpzoo_training").rglob("*.py")):
        for _, module, name in core_imports(path):
            if module not in public or (name is not None and name not in public[module]):
                used.setdefault(module, set()).add(name)
    extra = {m: names - ENGINE_INTERNALS.get(m, set()) for m, names in used.items()}
    assert not any(extra.values()), f"new internal imports in nlpzoo_training: {extra}; use the public API"
    assert used == ENGINE_INTERNALS, "a name the engine no longer uses: take it off ENGINE_INTERNALS"


def test_the_boundary_check_catches_an_internal_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import nlpzoo\nfrom nlpzoo.yamlio import atomic_write\nx = nlpzoo.kinds.Embedder\n")
    assert [(m, n) for _, m, n in core_imports(bad)] == [("nlpzoo", None), ("nlpzoo.yamlio", "atomic_write"),
                                                         ("nlpzoo", "kinds")]
    assert "kinds" not in public_names()["nlpzoo"]


def test_the_public_modules_list_sorted_exports_that_exist():
    for module, names in public_names().items():
        mod = importlib.import_module(module)
        assert list(mod.__all__) == sorted(mod.__all__), module
        for name in names:
            assert getattr(mod, name) is not None, f"{module}.{name}"


# ---------------------------------------------------------------- names never break a user's recipes


def _plugin(register_calls, commands=None):
    class P:
        @nlpzoo.hookimpl
        def register_components(self, register):
            for kwargs in register_calls:
                register(**kwargs)

    if commands is not None:
        P.register_commands = nlpzoo.hookimpl(lambda self, cli: commands(cli))
    return P()


SWAP = {"kind": "augmenter", "target": "nlpzoo_augment.eda:RandomSwap", "summary": "Swap."}


def core_and_guest(manager, *guest_calls):
    manager.add_plugin(_plugin([{**SWAP, "name": "swap"}]), "augment", distribution="nlpzoo")
    manager.add_plugin(_plugin(list(guest_calls)), "guest", distribution="nlpzoo-guest")


def test_a_name_nlpzoo_registers_keeps_its_meaning_when_a_plugin_registers_it_too(nlpzoo_isolated):
    core_and_guest(nlpzoo_isolated, {**SWAP, "name": "swap"})
    registry = nlpzoo_isolated.registry
    assert registry.get("augmenter", "swap").provider == "augment"
    assert registry.get("augmenter", "guest:swap").provider == "guest"
    (providers, warning), = nlpzoo_isolated.shadowed()
    assert providers == ["augment", "guest"]
    assert "means augment:swap, nlpzoo's own" in warning and "guest:swap" in warning and "prefer" in warning


def prefer(manager, tmp_path, provider: str) -> None:
    overlay = tmp_path / f"prefer-{provider}.yaml"
    overlay.write_text(f"prefer:\n  augmenter/swap: {provider}\n")
    manager.add_overlay(str(overlay))


def test_prefer_in_a_catalogue_picks_the_plugin_and_a_missing_provider_is_named(nlpzoo_isolated, tmp_path):
    core_and_guest(nlpzoo_isolated, {**SWAP, "name": "swap"})
    prefer(nlpzoo_isolated, tmp_path, "guest")
    assert type(nlpzoo.build("swap", "augmenter")).__module__ == "nlpzoo_augment.eda"
    assert nlpzoo.resolve("swap", "augmenter").provider == "guest"
    prefer(nlpzoo_isolated, tmp_path, "gust")
    with pytest.raises(UnknownComponent, match="prefer: augmenter/swap names provider 'gust', which registers no "
                                               "augmenter 'swap' .*did you mean 'guest'"):
        nlpzoo.build("swap", "augmenter")


def test_names_beat_aliases(nlpzoo_isolated):
    core_and_guest(nlpzoo_isolated, {**SWAP, "name": "mine", "aliases": ("swap", "twiddle")})
    registry = nlpzoo_isolated.registry
    assert registry.get("augmenter", "swap").provider == "augment"  # the alias cannot take the name over
    assert registry.get("augmenter", "twiddle").name == "mine"  # an alias that is no name still works


def test_two_other_plugins_with_one_name_is_an_error_naming_both(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(_plugin([{**SWAP, "name": "shuffle"}]), "one", distribution="nlpzoo-one")
    nlpzoo_isolated.add_plugin(_plugin([{**SWAP, "name": "shuffle"}]), "two", distribution="nlpzoo-two")
    with pytest.raises(AmbiguousName, match="'one:shuffle' and 'two:shuffle'"):
        nlpzoo_isolated.registry.get("augmenter", "shuffle")


def test_a_plugin_command_cannot_replace_a_built_in_one(nlpzoo_isolated):
    group = click.Group()

    @group.command("list")
    def builtin():
        """The real one."""

    def hijack(cli):
        cli.command("list")(lambda: None)
        cli.command("shout")(lambda: None)

    nlpzoo_isolated.add_plugin(_plugin([], commands=hijack), "sneaky")
    nlpzoo_isolated.add_commands(group)
    assert group.commands["list"].callback is builtin.callback and "shout" in group.commands
    assert any("'list' is nlpzoo's own" in w for w in nlpzoo_isolated.health["sneaky"].warnings)


# ---------------------------------------------------------------- mistakes explained at the author's line


class WrongArgument:
    @nlpzoo.hookimpl
    def register_components(self, reg):
        reg("augmenter", "x", target="a:b")


class Typo:
    @nlpzoo.hookimpl
    def register_component(self, register):
        register("augmenter", "x", target="a:b")


class NoArguments:
    @nlpzoo.hookimpl
    def register_components(self):
        pass


THIS_FILE = str(Path(__file__))


@pytest.mark.parametrize("plugin, error, fix", [
    (WrongArgument(), r"register_components\(reg\): 'reg' is not an argument of this hook", "write register_components(register)"),
    (Typo(), "'register_component' is not an nlpzoo hook .*did you mean 'register_components'", "rename it 'register_components'"),
    (NoArguments(), r"register_components\(\) takes no arguments", "write register_components(register)"),
])
def test_a_hook_mistake_names_the_plugin_file_and_line_with_a_fix(nlpzoo_isolated, plugin, error, fix):
    nlpzoo_isolated.add_plugin(plugin, "mine")
    row = nlpzoo_isolated.health["mine"]
    assert row.status == "failed" and re.search(error, row.error) and THIS_FILE in row.error
    assert row.hint == fix


def test_a_target_that_does_not_import_is_reported_by_plugins_check_and_info(nlpzoo_isolated):
    nlpzoo_isolated.add_plugin(_plugin([{**SWAP, "name": "typo", "target": "nlpzoo_augment.eda:RandomSwp"}]), "mine")
    assert nlpzoo_isolated.health["mine"].status == "ok"  # nothing imported yet: loading stays fast
    with pytest.raises(nlpzoo.NlpzooError, match=r"augmenter 'typo' of plugin 'mine' \(registered at .*test_plugin_api.py:\d+\)"
                                                 r".*has no attribute 'RandomSwp' \(did you mean 'RandomSwap'"):
        nlpzoo_isolated.registry.get("augmenter", "typo").load()
    check_targets(nlpzoo_isolated)
    row = nlpzoo_isolated.health["mine"]
    assert row.status == "failed" and "RandomSwp" in row.error and "test_plugin_api.py" in row.hint


def test_a_malformed_preset_is_dropped_and_reported_and_the_rest_works(nlpzoo_isolated):
    class Presets:
        @nlpzoo.hookimpl
        def register_presets(self, register):
            register("bad-preset", kind="augmentr", component="swap")
            register("good-preset", kind="augmenter", component="swap", params={"alpha": 0.2})

    core_and_guest(nlpzoo_isolated)
    nlpzoo_isolated.add_plugin(Presets(), "presets")
    row = nlpzoo_isolated.health["presets"]
    assert row.status == "ok" and row.presets == 1
    assert any("preset 'bad-preset' dropped: presets.bad-preset.kind" in w and "did you mean 'augmenter'" in w
               for w in row.warnings)
    assert "good-preset" in nlpzoo_isolated.catalog.presets and "bad-preset" not in nlpzoo_isolated.catalog.presets


def test_a_preset_whose_parameters_do_not_resolve_fails_the_check_at_the_plugins_line(nlpzoo_isolated):
    class Presets:
        @nlpzoo.hookimpl
        def register_presets(self, register):
            register("typo-preset", kind="augmenter", component="swap", params={"rat": 0.2})

    core_and_guest(nlpzoo_isolated)
    nlpzoo_isolated.add_plugin(Presets(), "presets")
    assert nlpzoo_isolated.health["presets"].status == "ok"  # well-formed: it loads, and the listing shows it
    from nlpzoo_testing import check_plugin

    with pytest.raises(AssertionError, match=r"test_plugin_api.py:\d+: preset 'typo-preset': rat: unknown parameter"):
        check_plugin("presets")
    check_targets(nlpzoo_isolated)  # nlpzoo plugins --check
    row = nlpzoo_isolated.health["presets"]
    assert row.status == "failed" and "preset 'typo-preset': rat: unknown parameter" in row.error
    assert "test_plugin_api.py:" in row.hint


def test_a_constructors_value_error_points_at_the_recipe_line_and_nested_path(tmp_path, cli):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: {name: minilm-l6}\naugment:\n  name: sequential\n  augmenters:\n"
                      "    - {name: random-swap}\n    - {name: random-deletion, rate: 7}\n")
    done = cli("validate", str(recipe))
    line = done.stderr.strip()
    assert done.returncode == 1 and "\n" not in line and "Traceback" not in line
    assert f"{recipe}:6: augment.augmenters.1.rate:" in line


# ---------------------------------------------------------------- plugins cannot take the zoo down


def test_a_hanging_import_is_given_up_after_the_time_limit(monkeypatch):
    monkeypatch.setenv("NLPZOO_PLUGIN_TIMEOUT", "0.5")
    manager, row = PluginManager(), PluginHealth("sleepy", "nlpzoo-sleepy", "1", "sleepy")
    start = time.perf_counter()
    assert manager._import(lambda: time.sleep(30), row) is None
    assert time.perf_counter() - start < 5
    assert row.status == "failed" and "longer than 0.5 s" in row.error and "NLPZOO_PLUGIN_TIMEOUT" in row.hint


def test_exiting_printing_and_importing_torch_at_import_are_caught_and_reported():
    manager = PluginManager()
    row = PluginHealth("exits", "", "", "exits")
    assert manager._import(lambda: sys.exit(0), row) is None and "SystemExit" in row.error
    chatty = PluginHealth("chatty", "", "", "chatty")

    def noisy():
        print("hello from a plugin")
        return object()

    assert manager._import(noisy, chatty) is not None
    assert chatty.output == "hello from a plugin" and any("printed while loading" in w for w in chatty.warnings)


@pytest.fixture(scope="module")
def hostile(request):
    """The misbehaving plugins of tests/plugins, pip-installed for real; uninstalled afterwards."""
    def pip(*args):
        done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]

    pip("install", "--no-deps", "--no-build-isolation", "--quiet", HOSTILE)
    yield
    pip("uninstall", "--yes", "--quiet", "nlpzoo-hostile-plugin")


FIRST_PARTY = "optim,datasets,lstm,bert,augment,word2vec,dcgan"


@pytest.mark.slow
def test_a_plugin_that_hangs_at_import_is_given_up_and_every_command_works(hostile, cli):
    env = {"NLPZOO_PLUGINS": f"{FIRST_PARTY},hangs", "NLPZOO_PLUGIN_TIMEOUT": "2"}
    start = time.perf_counter()
    helped = cli("--help", env=env)
    assert helped.returncode == 0 and "Usage" in helped.stdout and time.perf_counter() - start < 60
    table = cli("plugins", env=env).stdout
    assert re.search(r"hangs\s+failed", table) and "longer than 2 s" in table and "NLPZOO_PLUGIN_TIMEOUT" in table


@pytest.mark.slow
def test_exiting_printing_and_importing_torch_plugins_take_nothing_down(hostile, cli, tmp_path):
    env = {"NLPZOO_PLUGINS": f"{FIRST_PARTY},exits,prints,heavy", "NLPZOO_PLUGIN_TIMEOUT": "120"}
    rows = json.loads(cli("list", "--json", env=env).stdout)  # nothing a plugin printed reaches stdout
    assert any(r["name"] == "chatty" for r in rows)
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {name: lstm-clasifier}\n")
    assert cli("validate", str(bad), env=env).returncode == 1  # sys.exit(0) in a plugin does not make it pass
    table = cli("plugins", env=env).stdout
    assert re.search(r"exits\s+failed", table) and "SystemExit" in table
    assert "output: hello from a chatty plugin" in table
    assert re.search(r"imports torch when it is loaded \(.*nlpzoo_hostile/heavy.py:2\)", table)


@pytest.mark.slow
def test_a_plugin_cannot_take_over_names_aliases_or_commands(hostile, cli):
    env = {"NLPZOO_PLUGINS": f"{FIRST_PARTY},takeover"}
    table = cli("plugins", env=env).stdout
    assert "augmenter 'eda' is registered by augment, takeover: the bare name means augment:eda, nlpzoo's own" in table
    assert "'list' is nlpzoo's own and was not replaced" in table
    assert "'augment' is nlpzoo's own and was not replaced" in table  # commands of nlpzoo's own plugins too
    assert "hijacked" not in cli("list", env=env).stdout
    explained = cli("augment", "eda", "--explain", env=env, input="a quick test sentence here\n")
    assert explained.returncode == 0 and "impostor" not in explained.stdout and "hijacked" not in explained.stdout
    assert "impostor" in cli("augment", "takeover:eda", "--explain", env=env, input="a test\n").stdout


# ---------------------------------------------------------------- the dev loop


@pytest.mark.slow
def test_the_plugins_table_shows_hooks_distribution_and_api(cli):
    table = cli("plugins").stdout
    assert re.search(r"\naugment\s+ok\s+[\d.]+ms\s+\d+\s+2\s+commands,components; nlpzoo ", "\n" + table)
    assert "plugin API 2" in table


def test_aliases_work_in_info_and_list(nlpzoo_isolated):
    from nlpzoo.cli import cli as app
    from click.testing import CliRunner

    nlpzoo_isolated.add_plugin(_plugin([{**SWAP, "name": "swap", "aliases": ("twiddle",)}]), "augment",
                               distribution="nlpzoo")
    runner = CliRunner()
    assert "swap  (augmenter)" in runner.invoke(app, ["info", "twiddle"]).output
    assert "also: twiddle" in runner.invoke(app, ["list", "twid*"]).output


@pytest.mark.slow
def test_new_plugin_writes_a_package_whose_own_tests_pass_after_pip_install_e(cli, tmp_path):
    for kind in ("augmenter", "classifier"):
        name = f"made-{kind}"
        done = cli("new-plugin", name, "--kind", kind, "--dir", str(tmp_path))
        assert done.returncode == 0, done.stderr
        project = tmp_path / f"nlpzoo-{name}"
        install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
                                  "-e", str(project)], capture_output=True, text=True, timeout=600)
        assert install.returncode == 0, install.stderr[-1500:]
        try:
            tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project / "tests")],
                                   capture_output=True, text=True, cwd=project, timeout=600)
            assert tests.returncode == 0 and "2 passed" in tests.stdout, tests.stdout[-2000:]
        finally:
            subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", f"nlpzoo-{name}"],
                           capture_output=True, timeout=600)
    again = cli("new-plugin", "made-augmenter", "--dir", str(tmp_path))
    assert again.returncode == 1 and "already exists" in again.stderr


@pytest.mark.slow
def test_a_plugin_loads_from_a_folder_without_installing(cli, tmp_path):
    assert cli("new-plugin", "folder-only", "--dir", str(tmp_path)).returncode == 0
    listing = cli("--plugins-dir", str(tmp_path), "list", "folder-*")
    assert listing.returncode == 0 and "folder-only" in listing.stdout
    env_listing = cli("list", "folder-*", env={"NLPZOO_PLUGIN_PATH": str(tmp_path / "nlpzoo-folder-only")})
    assert "folder-only" in env_listing.stdout
    assert "folder-only" not in cli("list", "folder-*").stdout


def test_a_plugins_dir_that_is_not_there_is_refused(cli, tmp_path):
    missing = cli("--plugins-dir", str(tmp_path / "nope"), "list")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert f"--plugins-dir {tmp_path / 'nope'}: no such folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = cli("list", env={"NLPZOO_PLUGIN_PATH": str(tmp_path / "empty")})
    assert empty.returncode != 0 and "a folder without plugins" in empty.stderr and "Traceback" not in empty.stderr


@pytest.mark.slow
def test_a_folder_copy_of_an_installed_plugin_wins_and_says_so(cli, tmp_path):
    assert cli("new-plugin", "folder-only", "--dir", str(tmp_path)).returncode == 0
    pyproject = tmp_path / "nlpzoo-folder-only" / "pyproject.toml"
    # the folder holds a development copy of the installed "augment" plugin: the same entry point name
    text = pyproject.read_text()
    entry = re.search(r'^(\S+) = "nlpzoo_folder_only', text, flags=re.M)
    pyproject.write_text(text.replace(entry.group(0), 'augment = "nlpzoo_folder_only'))
    listing = cli("--plugins-dir", str(tmp_path), "list", "--kind", "augmenter")
    names = [line.split()[0] for line in listing.stdout.splitlines()[1:]]
    assert listing.returncode == 0 and "folder-only" in names and "random-swap" not in names  # the folder's copy
    health = cli("--plugins-dir", str(tmp_path), "plugins")
    assert "has the same entry point 'augment'; the copy in the folder is the one used" in health.stdout + health.stderr


def test_an_alias_that_is_already_a_name_is_reported_where_it_was_registered(nlpzoo_isolated):
    core_and_guest(nlpzoo_isolated, {**SWAP, "name": "twirl", "aliases": ("swap",)})
    assert nlpzoo_isolated.registry.get("augmenter", "swap").provider == "augment"  # the name wins
    lines = [line for providers, line in nlpzoo_isolated.shadowed() if providers == ["guest"]]
    assert len(lines) == 1 and "test_plugin_api.py:" in lines[0]
    assert "augmenter alias 'swap' of guest:twirl is never used: augment:swap has that name" in lines[0]
    from nlpzoo_testing import check_plugin

    with pytest.warns(UserWarning, match="alias 'swap' of guest:twirl is never used"):
        check_plugin("guest")
