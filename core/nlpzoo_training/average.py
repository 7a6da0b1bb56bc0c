"""``train.ema``: an exponential moving average of the weights, which is what is evaluated and saved."""
from __future__ import annotations

import contextlib


class WeightAverage:
    """An exponential moving average of the networks' weights (``train.ema``), swapped in to evaluate and save.

    Averaging the last few hundred steps smooths out the noise of the final updates; the decay ramps
    up as ``(1 + n) / (10 + n)`` over the first updates, so early weights do not linger.
    """

    def __init__(self, nets: dict, decay: float):
        seen, self.live = set(), []
        for net in nets.values():
            for t in net.state_dict(keep_vars=True).values():
                if t.is_floating_point() and t.data_ptr() not in seen:  # tied weights once
                    seen.add(t.data_ptr())
                    self.live.append(t.detach())
        self.shadow = [t.detach().clone() for t in self.live]
        self.decay, self.updates = decay, 0

    def update(self) -> None:
        import torch

        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.shadow, self.live, 1.0 - decay)

    @contextlib.contextmanager
    def swapped_in(self):
        """The averaged weights in the networks inside the block, the trained ones back after it."""
        self.swap()
        try:
            yield
        finally:
            self.swap()

    def swap(self) -> None:
        for live, shadow in zip(self.live, self.shadow):
            kept = live.clone()
            live.copy_(shadow)
            shadow.copy_(kept)

    def state(self) -> dict:
        return {"updates": self.updates, "shadow": list(self.shadow)}

    def restore(self, state: dict) -> None:
        self.updates = int(state["updates"])
        for shadow, saved in zip(self.shadow, state["shadow"]):
            shadow.copy_(saved)
