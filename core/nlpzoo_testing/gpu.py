"""A GPU simulated on the CPU, so that device mistakes fail on machines without one (CI, laptops).

Inside :func:`simulated_gpu`, tensors moved to ``cuda`` stay CPU tensors but are marked as being on the
GPU, and every torch call checks its tensor arguments the way CUDA does: mixing a marked tensor with an
unmarked one (other than a CPU scalar) raises ``Expected all tensors to be on the same device``,
``.numpy()`` on a marked tensor raises as on a GPU, and ``.device`` answers ``cuda:0``. Results of
calls on marked tensors are marked, factories called with ``device="cuda"`` make marked tensors.

The training loop is told to train on ``cuda:0``; everything else runs as the plugin wrote it. What
works here moves its batches, noise and prompts to the device of its networks.

Libraries probe CUDA about the device their tensors report (transformers' hub kernels ask for the compute
capability when a model on ``cuda`` is put in training mode). Inside the block those probes get stand-ins
for one H100/H200-class device: ``get_device_capability`` answers ``(9, 0)``, ``get_device_properties``
and ``get_device_name`` describe a "simulated GPU", ``current_device`` is 0. ``is_available`` and
``device_count`` keep their true answers (no CUDA runtime is there): code that decides by them takes its
CPU path. Hub kernels themselves are switched off (``USE_HUB_KERNELS=NO``) for models loaded in the block:
they would be fetched from the Hugging Face hub, which a test must not reach.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import SimpleNamespace

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

GPU = torch.device("cuda", 0)
MARK = "_nlpzoo_on_simulated_gpu"

# Calls that legitimately take tensors from both devices on a real GPU.
CROSS_DEVICE = {
    "copy_",  # cuda_tensor.copy_(cpu_tensor) copies across
    "_pack_padded_sequence", "pack_padded_sequence",  # lengths must be on the CPU
    "__getitem__", "__setitem__", "index_put_",  # a CPU index tensor may index a GPU tensor
    "set_", "load_state_dict", "_has_compatible_shallow_copy_type",
}
# Recurrent layers on packed sequences take their batch sizes (integers) on the CPU.
CPU_INTEGERS_ALLOWED = {"lstm", "gru", "rnn_tanh", "rnn_relu", "_pad_packed_sequence"}
# Calls whose results are partly on the CPU on a real GPU: only the first result is on the device.
FIRST_RESULT_ON_DEVICE = {"_pack_padded_sequence", "_pad_packed_sequence"}  # batch sizes, lengths stay on the CPU


# What CUDA probes answer about the simulated device: a compute-capability 9.0 card (the reference GPU's).
PROPERTIES = SimpleNamespace(name="simulated GPU (tensors on the CPU)", major=9, minor=0,
                             total_memory=80 * 2**30, multi_processor_count=132, is_integrated=False)
STAND_INS = {
    "get_device_capability": lambda device=None: (PROPERTIES.major, PROPERTIES.minor),
    "get_device_properties": lambda device=None: PROPERTIES,
    "get_device_name": lambda device=None: PROPERTIES.name,
    "current_device": lambda: 0,
}


class SimulatedGPUError(RuntimeError):
    """A device mistake that a real GPU would raise too."""


def on_gpu(t) -> bool:
    return isinstance(t, torch.Tensor) and t.__dict__.get(MARK, False)


def _mark(t, value: bool = True):
    if isinstance(t, torch.Tensor):
        if value:
            t.__dict__[MARK] = True
        else:
            t.__dict__.pop(MARK, None)
    return t


def _mark_all(out):
    leaves, _ = tree_flatten(out)
    for leaf in leaves:
        _mark(leaf)
    return out


def _is_gpu(device) -> bool:
    if device is None:
        return False
    if isinstance(device, int):
        return True
    return torch.device(device).type == "cuda"


class _SimulatedGPU(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = getattr(func, "__name__", "")
        if name in ("__get__", "__set__"):
            return self._attribute(func, name, args)
        if name in ("to", "cuda", "cpu"):
            return self._move(func, name, args, kwargs)
        if name in ("numpy", "__array__") and args and on_gpu(args[0]):
            raise SimulatedGPUError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
                                    "tensor to host memory first. (simulated GPU)")
        if name in ("pin_memory",):
            return args[0]
        if name == "is_pinned":
            return False
        factory_device = kwargs.get("device")
        if _is_gpu(factory_device):
            kwargs["device"] = "cpu"
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)
                   and not (name in CPU_INTEGERS_ALLOWED and not t.is_floating_point())]
        marked = [on_gpu(t) for t in tensors]
        if name not in CROSS_DEVICE and any(marked) and not all(
                m or t.dim() == 0 for m, t in zip(marked, tensors)):
            odd = next(t for m, t in zip(marked, tensors) if not m and t.dim() > 0)
            raise SimulatedGPUError(
                f"Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! "
                f"(simulated GPU: {name} got a CPU tensor of shape {tuple(odd.shape)})")
        out = func(*args, **kwargs)
        if _is_gpu(factory_device) or (factory_device is None and any(marked) and name not in ("copy_",)):
            _mark_all(out[0] if name in FIRST_RESULT_ON_DEVICE else out)
        return out

    @staticmethod
    def _attribute(func, name, args):
        attribute = func.__self__.__name__
        tensor = args[0]
        if name == "__set__":
            out = func(*args)
            if attribute == "data":
                _mark(tensor, on_gpu(args[1]))
            return out
        if attribute == "device":
            return GPU if on_gpu(tensor) else func(*args)
        if attribute == "is_cuda":
            return on_gpu(tensor)
        out = func(*args)
        if on_gpu(tensor) and isinstance(out, torch.Tensor):
            _mark(out)
        return out

    @staticmethod
    def _move(func, name, args, kwargs):
        tensor = args[0]
        if name == "cuda":
            target, dtype = GPU, None
        elif name == "cpu":
            target, dtype = torch.device("cpu"), None
        else:
            target, dtype, _, _ = torch._C._nn._parse_to(*args[1:], **kwargs)
        out = tensor.to(dtype=dtype) if dtype is not None else tensor
        if target is None:  # a dtype change: stays where it was
            return _mark(out, True) if on_gpu(tensor) else out
        if _is_gpu(target) == on_gpu(tensor):
            return out
        # a real copy to the other device: a new tensor (differentiable), marked as the target says
        return _mark(out.view_as(out) if out is tensor else out, _is_gpu(target))


@contextlib.contextmanager
def simulated_gpu() -> Iterator[torch.device]:
    """Run the block as if the training loop's device were ``cuda:0``; yields that device.

    Everything that trains through :meth:`Run.fit` inside the block trains "on the GPU": the loop moves
    the networks and each batch there. Anything a component computes outside the loop (evaluation,
    prediction, generation, sampling) must move its inputs to where its networks live.
    """
    from accelerate import Accelerator

    original = Accelerator.__dict__["device"]
    Accelerator.device = property(lambda self: GPU)  # where the loop puts networks and batches
    try:
        # the tensors really live on the CPU: a CUDA build of torch must not hand "cuda" RNN weights to cuDNN
        with torch.backends.cudnn.flags(enabled=False), _cuda_probes_answered(), _hub_kernels_off(), _SimulatedGPU():
            yield GPU
    finally:
        Accelerator.device = original


@contextlib.contextmanager
def _cuda_probes_answered() -> Iterator[None]:
    originals = {name: getattr(torch.cuda, name) for name in STAND_INS}
    for name, stand_in in STAND_INS.items():
        setattr(torch.cuda, name, stand_in)
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(torch.cuda, name, original)


@contextlib.contextmanager
def _hub_kernels_off() -> Iterator[None]:
    before = os.environ.get("USE_HUB_KERNELS")
    os.environ["USE_HUB_KERNELS"] = "NO"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("USE_HUB_KERNELS", None)
        else:
            os.environ["USE_HUB_KERNELS"] = before
