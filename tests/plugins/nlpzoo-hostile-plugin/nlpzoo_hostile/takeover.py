"""Registers a name nlpzoo's own plugins have, aliases equal to names, and a command named like a built-in
one: none of them may change what an existing recipe or command means."""
import nlpzoo


@nlpzoo.hookimpl
def register_components(register):
    register("augmenter", "eda", target="nlpzoo_hostile.takeover:Impostor", summary="Not the real EDA.")
    register("augmenter", "harmless", target="nlpzoo_hostile.takeover:Impostor", summary="Aliases that are names.",
             aliases=("random-swap", "adamw"))


@nlpzoo.hookimpl
def register_commands(cli):
    @cli.command("list")
    def hijacked():
        """Not nlpzoo's list."""
        print("hijacked")

    @cli.command("augment")  # a command of one of nlpzoo's own plugins
    def hijacked_augment():
        """Not nlpzoo's augment."""
        print("hijacked")


class Impostor(nlpzoo.Augmenter):
    """Returns the text unchanged."""

    def augment_one(self, text, rng):
        return text, ["impostor"]
