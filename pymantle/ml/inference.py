"""Running a trained Stokes surrogate inside the solver (the providers' one door to ML).

Model loading (a model file checked against the grid, the network built in its dtype),
the device policy (GPU if there is one; per device the convolution layout, the CUDA
streams, no TF32, channels_last on the CPU), the pinned host buffers the velocities land
in, and the capture of the forward pass as one CUDA graph. The network's inputs and
scales come from inputs.py and buoyancy.py (no I/O). torch is imported on use: importing
this module costs NumPy only, so a Stokes-solver run never loads torch.
"""
from __future__ import annotations


import numpy as np

from ..config import ConfigError
from .networks.buoyancy import buoyancy_inputs  # noqa: F401  (the providers' import point)
from .networks.inputs import ETA_CLIP, InputNormalisation, VelocityScaling, input_channels  # noqa: F401


def load_surrogate(grid, model_path: str):
    """(model, dtype, payload, buoyancy) of a model file: the network in eval mode, in its
    dtype, on the CPU; buoyancy tells the buoyancy-scaled U-nets (its own inputs and scale
    every step, networks/buoyancy.py; one grid, or two: networks/two_grid.py) from the
    study's network (7 channels, the Eq. 4 scale).
    A file that does not fit the grid is a ConfigError."""
    import torch
    from .checkpoint import ModelFileError, load_model_file
    from .networks import build
    try:
        payload = load_model_file(model_path, expect_grid={"nx": grid.nx, "ny": grid.ny,
                                                           "aspect": grid.aspect},
                                  expect_class="StokesSurrogate")
    except ModelFileError as exc:
        raise ConfigError(f"&stokes model: {exc}") from None
    mc = dict(payload["model"]["config"])
    dtype = getattr(torch, str(mc.get("dtype", "float64")))
    mc["dtype"] = dtype
    cls = payload["model"].get("class", "StokesSurrogate")
    buoyancy = cls in ("BuoyancyUNet", "TwoGridUNet")
    model = build(cls, mc, grid.aspect)
    model.to(dtype)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model, dtype, payload, buoyancy


def place_model(model, dtype):
    """Move the network to its device and set it up the way that device runs it fastest
    (docs/reports/2026-11-26-gpu-sessions.md); returns (device, conv_impl, channels_last).
    PYMANTLE_CONV_IMPL, PYMANTLE_LEVEL_STREAMS, PYMANTLE_STRIP_STREAMS and (on the CPU: one
    thread by default, switches.torch_threads) PYMANTLE_TORCH_THREADS override the choices."""
    import torch
    from .networks.layers import set_conv_impl, set_strip_streams
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    cuda = device.type == "cuda"
    # Subnormal float32 activations slow x86 convolutions by ~10x (measured); flush them.
    torch.set_flush_denormal(True)
    # The same network, computed the way each device runs it fastest (docs/reports/2026-11-26-gpu-sessions.md):
    # nine small convolutions per layer on the CPU, few large ones on a GPU.
    from .. import switches
    conv_impl = switches.conv_impl("auto" if cuda else "banks")
    try:
        set_conv_impl(model, conv_impl)
    except ValueError as exc:
        raise ConfigError(f"environment PYMANTLE_CONV_IMPL: {exc}") from None
    if not cuda:
        try:
            threads = switches.torch_threads()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if threads is not None:
            torch.set_num_threads(threads)
    model.level_streams = cuda and switches.level_streams()
    set_strip_streams(model, cuda and switches.strip_streams())
    if cuda:
        # No TF32 convolutions (torch's default on NVIDIA GPUs; the switch is
        # process-wide): their 10-bit mantissa puts 1-8 % errors into the velocities,
        # which are differences of neighbouring stream-function values (measured on
        # the shipped model, docs/reports/2026-11-26-gpu-sessions.md).
        torch.backends.cudnn.allow_tf32 = False
    # channels_last: faster for float32 on the CPU (bench_model)
    channels_last = dtype == torch.float32 and not cuda
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return device, conv_impl, channels_last


def faces_module(model):
    """The network's `faces` method as the forward of a module (tracing and ONNX export
    follow `forward` only)."""
    import torch

    class Faces(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m.faces(x)
    return Faces(model).eval()


def frozen_faces(model, shape, dtype, channels_last: bool):
    """The network's face velocities as a frozen TorchScript graph, for CPU inference on
    one grid: tracing removes Python's dispatch between the hundreds of small operations
    and freezing folds the weights in as constants. Measured side by side on one thread
    (scripts/bench_inference.py, docs/bench/bench_inference-2026-12-07T1935-vm.json):
    2.26 against 2.94 ms per forward pass at 32x128, 15.7 against 17.0 ms at 126x504, the
    same velocities (bit for bit at 32x128, to 1e-6 at 126x504). ONNX Runtime was faster
    at 32x128 (1.98 ms) but not at 126x504, and is not a dependency; torch.compile was
    slower at 32x128 and took a minute to start. The graph is built once per provider,
    0.08 s at 32x128 and 1 s at 126x504 (bench_inference-2026-12-07T2010-vm.json).
    PYMANTLE_FROZEN_GRAPH=0: eager `model.faces`."""
    import torch
    from .. import switches
    if not switches.frozen_graph():
        return model.faces
    import warnings
    from .networks.buoyancy import N_CHANNELS       # both buoyancy networks read these
    x = torch.zeros((1, N_CHANNELS, *shape), dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), warnings.catch_warnings():
        # Shape-dependent Python in the layers is fixed for the one grid traced. TorchScript
        # is deprecated in torch 2.13 but its replacements are slower here (torch.compile,
        # above) or need the export stack; should a later torch drop or break it, the run
        # goes on eagerly, with the same velocities.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return torch.jit.freeze(torch.jit.trace(faces_module(model), x, check_trace=False))
        except Exception as exc:                            # noqa: BLE001
            import sys
            print(f"note: the network runs eagerly (its TorchScript graph failed: {exc})",
                  file=sys.stderr, flush=True)
            return model.faces


def run_parameters(payload, physics: dict, buoyancy: bool):
    """(params, scale): the run's normalised (Q, gamma, beta) channels and its Eq. 4
    velocity scale (None for the buoyancy U-net, which scales every step)."""
    n = payload["normalisation"]
    norm = InputNormalisation(tuple(n["q"]), tuple(n["log_gamma"]), tuple(n["log_beta"]))
    scaling = None if buoyancy else VelocityScaling.from_dict(payload["scaling"])
    params = norm.params(physics["q"], physics["gamma"], physics["beta"])
    scale = (None if buoyancy else
             float(scaling.scale(physics["q"], physics["gamma"], physics["beta"])[0]))
    return params, scale


def velocity_blocks(grid, pinned: bool):
    """Two float64 blocks [u, v] and their (u, v) NumPy and torch views. On a GPU they are
    pinned host memory, filled by one device-to-host copy per step; the kernels read the
    NumPy views without a copy."""
    import torch
    nu, nv = int(np.prod(grid.u_shape)), int(np.prod(grid.v_shape))
    blocks = [torch.zeros(nu + nv, dtype=torch.float64, pin_memory=pinned) for _ in range(2)]
    views = [(b.numpy()[:nu].reshape(grid.u_shape), b.numpy()[nu:].reshape(grid.v_shape))
             for b in blocks]
    tviews = [(b[:nu].view(grid.u_shape), b[nu:].view(grid.v_shape)) for b in blocks]
    return blocks, views, tviews


def capture_graph(forward):
    """(graph, output) of `forward()` recorded as one CUDA graph, after three warm-up calls
    on a side stream (cuDNN picks its kernels); (None, None) if capture fails, and the
    caller runs eagerly."""
    import torch
    try:
        with torch.no_grad():
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):                  # warm-up: cuDNN picks its kernels
                    forward()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                out = forward()
        return graph, out
    except RuntimeError as exc:                     # pragma: no cover (GPU only)
        import warnings
        warnings.warn(f"CUDA graph capture failed ({exc}); running the network eagerly")
        return None, None


def training_box(payload) -> dict:
    """{'Q': (lo, hi), 'gamma': (lo, hi), 'beta': (lo, hi)} a model was trained in: the box
    of its campaign where the file records it, else its training split's ranges widened
    by a tenth of their width (in log10 for gamma and beta)."""
    box = payload.get("training", {}).get("box")
    if box:
        return {k: (float(box[k][0]), float(box[k][1])) for k in ("Q", "gamma", "beta")}
    # The training runs' own extremes lie inside the box they were sampled from: widened
    n = payload["normalisation"]

    def widen(lo, hi, exp10=False):
        lo, hi = lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)
        return (float(10.0 ** lo), float(10.0 ** hi)) if exp10 else (lo, hi)
    return {"Q": widen(*n["q"]), "gamma": widen(*n["log_gamma"], exp10=True),
            "beta": widen(*n["log_beta"], exp10=True)}


def outside_box(physics: dict, box: dict, rtol: float = 1e-6) -> list[str]:
    """'gamma = 3e+06 (trained on 1e+05..1e+06)' for each parameter outside the box."""
    out = []
    for key, name in (("Q", "q"), ("gamma", "gamma"), ("beta", "beta")):
        lo, hi = box[key]
        value = physics[name]
        if value < lo * (1 - rtol) - rtol or value > hi * (1 + rtol) + rtol:
            out.append(f"{key} = {value:.4g} (trained on {lo:.4g}..{hi:.4g})")
    return out
