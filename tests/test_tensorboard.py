"""``train.tensorboard: true`` writes events that TensorBoard's own reader gives back: every number
of metrics.jsonl, at its step."""
from __future__ import annotations

import json
import textwrap

import pytest

pytest.importorskip("tensorboard")


@pytest.mark.slow
def test_tensorboard_reads_back_every_logged_scalar(cli, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    recipe = tmp_path / "tb.yaml"
    recipe.write_text(textwrap.dedent("""\
        seed: 0
        dataset: {name: rotten-tomatoes, limit: 300}
        model: {name: lstm-classifier, embedding_dim: 16, hidden_size: 16}
        optimizer: {name: adamw, lr: 3.0e-3}
        scheduler: {name: cosine-warmup, warmup: 0.1}
        train: {epochs: 2, batch_size: 32, log_every: 2, metric: accuracy, tensorboard: true}
        """))
    run = tmp_path / "run"
    done = cli("train", str(recipe), "--run-dir", str(run))
    assert done.returncode == 0, done.stderr[-2000:]

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})  # 0: keep every event
    events.Reload()
    logged: dict[str, list[tuple[int, float]]] = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        for key, value in record.items():
            if key not in ("step", "epoch") and isinstance(value, (int, float)) and not isinstance(value, bool):
                logged.setdefault(key, []).append((record["step"], value))

    assert {"train_loss", "lr", "examples_per_s", "val_loss", "val_accuracy"} <= set(logged)
    assert set(events.Tags()["scalars"]) == set(logged)
    for key, points in logged.items():
        read = [(e.step, e.value) for e in events.Scalars(key)]
        assert [step for step, _ in read] == [step for step, _ in points], key
        assert [value for _, value in read] == pytest.approx([value for _, value in points], rel=1e-6), key
