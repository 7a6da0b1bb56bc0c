"""``nlpzoo augment``: any augmenter, first-party or not, over standard input."""
from __future__ import annotations

import sys

import click

import nlpzoo
from nlpzoo.commands import SEED, Bounded, example, read_spec
from nlpzoo.files import one_line


@click.command(epilog=example("""echo "the movie was quick and funny" | nlpzoo augment '{name: eda, alpha: 0.1}' -n 4 --explain"""))
@click.argument("spec")
@click.option("-n", "copies", default=1, show_default=True, type=Bounded(int, nlpzoo.Range(1, 1000)),
              help="Augmented versions per input line.")
@click.option("--seed", default=0, show_default=True, type=SEED)
@click.option("--explain", is_flag=True, help="Show the operations applied to each line.")
def augment(spec, copies, seed, explain):
    """Augment stdin line by line with SPEC (a name, inline YAML/JSON, or a YAML file); stdin is UTF-8 text."""
    augmenter = nlpzoo.build(nlpzoo.resolve(read_spec(spec), "augmenter", "SPEC"))
    out = sys.stdout
    for text in stdin_lines():
        for c in range(copies):
            if explain:
                new, ops = augmenter.explain([text], seed=seed + c)[0]
                out.write(f"{one_line(new)}\t{','.join(ops) or '-'}\n")
            else:  # one line out per line in, with no control character a terminal would obey
                out.write(one_line(augmenter.augment([text], seed=seed + c)[0]) + "\n")
    out.flush()


def stdin_lines():
    """Lines of standard input without their newline; bytes that are not UTF-8 stop with the line number."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream (tests): already decoded
        for line in sys.stdin:
            yield line.rstrip("\n")
        return
    for number, raw in enumerate(stream, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise nlpzoo.ConfigError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                                     "convert it first, e.g. with iconv -f latin1 -t utf-8", file="stdin",
                                     line=number) from None
        yield line.rstrip("\n").rstrip("\r") if line.endswith("\r\n") else line.rstrip("\n")
