"""Building blocks of the Stokes surrogate (docs/theory.md section 5).

- `BoundaryConv2d`: boundary-learned padding (Innamorati et al. 2020), one filter bank for
  the interior, one per edge and one per corner, each run only on its own strip.
- `make_conv`: the factory the model uses for every convolution ("learned", "zeros",
  "replicate").
- `stream_to_mac_velocity`: stream function at the cell centres -> face velocities on the
  MAC grid, divergence-free in every cell and with zero normal velocity on the walls.
- `colocated_curl` / `centres_to_faces`: the study's co-located variant, for comparison.
- `divergence`: the discrete divergence of MAC face velocities, per cell.

Layout (torch, batch first): cell centres (B, C, ny, nx); u on the vertical faces
(B, 1, ny, nx+1), column i at x = i dx; v on the horizontal faces (B, 1, ny+1, nx), row j at
y = j dy; cell corners (B, 1, ny+1, nx+1). Rows are y, columns are x.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

PADDING_MODES = ("learned", "zeros", "replicate")

# Bank names by (row band, column band); bands are 0 = top/left edge, 1 = middle, 2 =
# bottom/right edge. "Top" means row 0 (the first row of the array, y = 0 side); the names
# only label the array sides, the physics does not care which wall is which.
_BANKS = (("top_left", "top", "top_right"),
          ("left", "interior", "right"),
          ("bottom_left", "bottom", "bottom_right"))


_STREAMS: dict = {}     # (device, role) -> CUDA stream, made on first use (see cuda_stream)


def cuda_stream(device, role: str):
    """One side CUDA stream per device and role ("levels": the model's coarse levels;
    "strips": BoundaryConv2d's edge strips). Made at the first forward pass, which the
    provider runs before it captures a CUDA graph, so none is created during capture."""
    key = (device, role)
    if key not in _STREAMS:
        _STREAMS[key] = torch.cuda.Stream(device)
    return _STREAMS[key]


def _bands(n: int, p: int):
    """Split n output positions into (start, stop) bands: first edge, middle, last edge.

    Normally the edges are p wide. A field narrower than 2p (the coarsest pooled levels)
    gives the first edge ceil(n/2) positions and the last edge the rest, so every output
    position belongs to exactly one band; the middle band is then empty.
    """
    lo = min(p, (n + 1) // 2)
    hi = min(p, n - lo)
    return (0, lo), (lo, n - hi), (n - hi, n)


def _window(x, r0, r1, c0, c1, p):
    """The input a valid convolution needs for outputs rows r0:r1, cols c0:c1.

    That is input rows r0-p .. r1+p-1 (and likewise columns); positions outside the field
    are zeros, added only on the side(s) where the window leaves it, so the interior
    window is a plain view of x and an edge strip is padded on its outer side only.
    """
    H, W = x.shape[-2:]
    a, b, c, d = r0 - p, r1 + p, c0 - p, c1 + p
    s = x[..., max(a, 0):min(b, H), max(c, 0):min(d, W)]
    pad = (max(-c, 0), max(d - W, 0), max(-a, 0), max(b - H, 0))
    return F.pad(s, pad) if any(pad) else s


class BoundaryConv2d(nn.Module):
    """Same-size convolution with boundary-learned padding (Innamorati et al. 2020).

    Nine filter banks (each a full k x k kernel with its own bias): the interior bank gives
    output rows p..H-p-1 and columns p..W-p-1 (p = k//2) as a valid convolution; each edge
    bank gives the p outermost rows (or columns) on its own side, between the corners; each
    corner bank gives its p x p corner block. Every bank sees the input it needs with zeros
    beyond the field, so with the same weights in all banks this is exactly a zero-padded
    convolution; the edge and corner banks let the network learn how to treat the walls
    instead. Each bank runs only on its own strip: running all nine over the whole field
    and masking would cost about 18x more.

    shared_bias=True keeps one bias for all banks (only the weights differ). That is not
    what the spec describes, but it is the variant whose parameter count reproduces the
    study's 2,129,153 exactly (see models.py).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 5, shared_bias: bool = False):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for a same-size convolution, "
                             f"got {kernel_size}")
        self.in_ch, self.out_ch, self.kernel_size = in_ch, out_ch, kernel_size
        self.pad = kernel_size // 2
        self.banks = nn.ModuleDict({name: nn.Conv2d(in_ch, out_ch, kernel_size,
                                                    bias=not shared_bias)
                                    for row in _BANKS for name in row})
        if shared_bias:
            # Same initialisation as nn.Conv2d's own bias.
            bound = 1.0 / math.sqrt(in_ch * kernel_size * kernel_size)
            self.bias = nn.Parameter(torch.empty(out_ch).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)

    #: How the nine banks are computed; the same function and parameters every way.
    #: "banks": nine convolutions, each on its own strip (fewest operations: the CPU's
    #: choice). "stacked": one zero-padded convolution with the nine banks stacked as
    #: output channels, then a gather that keeps each output position's own bank (9x the
    #: arithmetic in two kernels: at batch 1 a GPU is bound by kernel count on small
    #: fields). "patched": the interior bank over the whole field, then the four edge
    #: strips recomputed and written over it (1x the arithmetic in ~15 small kernels).
    #: "auto": patched on fields of at least `patch_min_cells` cells, stacked below (the
    #: GPU's choice; measured in docs/reports/2026-11-26-gpu-sessions.md).
    impl = "banks"
    patch_min_cells = 8192
    #: Keep the stacked banks between calls without autograd (see `_stack`).
    cache_stacks = True
    #: On a GPU, "patched" computes the four edge strips on a side stream while the
    #: interior bank runs on the current one (off on the coarse levels' own side stream).
    strip_streams = False

    def _bank(self, name, window):
        conv = self.banks[name]
        bias = conv.bias if self.bias is None else self.bias
        return F.conv2d(window, conv.weight, bias)

    def forward(self, x):
        H, W = x.shape[-2:]
        p = self.pad
        if self.impl in ("patched", "auto") and H > 2 * p and W > 2 * p and (
                self.impl == "patched" or H * W >= self.patch_min_cells):
            return self._forward_patched(x)
        if self.impl in ("stacked", "auto", "patched"):     # also patched on fields too
            return self._forward_stacked(x)                 # small for the four strips
        rows, cols = _bands(H, p), _bands(W, p)
        out_rows = []
        for (r0, r1), names in zip(rows, _BANKS):
            if r1 == r0:
                continue
            pieces = [self._bank(name, _window(x, r0, r1, c0, c1, p))
                      for (c0, c1), name in zip(cols, names) if c1 > c0]
            out_rows.append(torch.cat(pieces, dim=-1))
        return torch.cat(out_rows, dim=-2)

    def _region_index(self, rows, W: int, device):
        """Bank number of every output position in `rows` (a tuple of row bands, 0-2) and
        all W columns: 3 * row band + column band, counted from the first bank of the
        lowest row band present, flattened to (1, 1, 1, n); cached per shape and device
        (built by the warm-up calls, before any CUDA graph capture)."""
        key = (rows, W, str(device))
        cache = self.__dict__.setdefault("_regions", {})
        if key not in cache:
            # a normal tensor even inside inference_mode: training may reuse it later
            with torch.inference_mode(False):
                cols = torch.cat([torch.full((b - a,), i)
                                  for i, (a, b) in enumerate(_bands(W, self.pad))])
                idx = (torch.tensor(rows)[:, None] - min(rows)) * 3 + cols[None, :]
                cache[key] = idx.reshape(1, 1, 1, -1).to(device)
        return cache[key]

    def _stack(self, names):
        """The banks `names` as one convolution: weights and biases stacked by output.

        Without autograd (inference, validation) the stacks are kept and reused until a
        parameter changes (its in-place version counter, device or dtype): rebuilding them
        cost two concatenation kernels per stack, a third of all kernels of a GPU forward
        pass (docs/reports/2026-11-26-gpu-sessions.md)."""
        params = [self.banks[n].weight for n in names] + (
            [self.bias] if self.bias is not None else [self.banks[n].bias for n in names])
        cache = None
        if self.cache_stacks and not torch.is_grad_enabled():
            cache = self.__dict__.setdefault("_stacks", {})
            key = (tuple(names), params[0].device, params[0].dtype,
                   tuple(q._version for q in params))
            hit = cache.get(tuple(names))
            if hit is not None and hit[0] == key:
                return hit[1]
        weight = torch.cat(params[:len(names)])
        bias = (self.bias.repeat(len(names)) if self.bias is not None
                else torch.cat(params[len(names):]))
        if cache is not None:
            cache[tuple(names)] = (key, (weight, bias))
        return weight, bias

    def _pick(self, y, rows, W: int):
        """Keep, at each position of y (B, k*C, len(rows), W), its own bank's C channels."""
        B, n = y.shape[0], len(rows) * W
        k = y.shape[1] // self.out_ch
        idx = self._region_index(rows, W, y.device).expand(B, 1, self.out_ch, n)
        return torch.gather(y.contiguous().view(B, k, self.out_ch, n), 1, idx).view(
            B, self.out_ch, len(rows), W)

    def _forward_stacked(self, x):
        H, W = x.shape[-2:]
        y = F.conv2d(x, *self._stack([n for row in _BANKS for n in row]), padding=self.pad)
        rows = tuple(i for i, (a, b) in enumerate(_bands(H, self.pad)) for _ in range(a, b))
        return self._pick(y, rows, W)

    def _forward_patched(self, x):
        """Needs H, W > 2p (all nine bands present). Each strip's window is the input its
        p outputs see, zero-padded beyond the field as in `_window`."""
        H, W = x.shape[-2:]
        p = self.pad
        xp = F.pad(x, (p, p, p, p))          # one padded copy; every window is a view of it
        side = None
        if self.strip_streams and x.is_cuda:
            main = torch.cuda.current_stream(x.device)
            if main != cuda_stream(x.device, "levels"):
                side = cuda_stream(x.device, "strips")
        if side is None:
            y = F.conv2d(xp, *self._stack(["interior"]))
            strips = self._strips(xp, H, W)
        else:
            # Fork and join, as the model's level streams do (graph-capturable; memory
            # freed on either stream is reused only after the other has caught up).
            side.wait_stream(main)
            with torch.cuda.stream(side):
                strips = self._strips(xp, H, W)
            y = F.conv2d(xp, *self._stack(["interior"]))
            main.wait_stream(side)
        top, bottom, left, right = strips
        y[..., :p, :] = top
        y[..., H - p:, :] = bottom
        y[..., p:H - p, :p] = left
        y[..., p:H - p, W - p:] = right
        return y

    def _strips(self, xp, H: int, W: int):
        """The top, bottom, left and right edge outputs from the padded input xp."""
        p = self.pad
        top = self._pick(F.conv2d(xp[..., :3 * p, :], *self._stack(_BANKS[0])), (0,) * p, W)
        bottom = self._pick(F.conv2d(xp[..., H - p:, :], *self._stack(_BANKS[2])), (2,) * p, W)
        left = F.conv2d(xp[..., p:H + p, :3 * p], *self._stack(["left"]))
        right = F.conv2d(xp[..., p:H + p, W - p:], *self._stack(["right"]))
        return top, bottom, left, right

    def extra_repr(self):
        return (f"{self.in_ch}, {self.out_ch}, kernel_size={self.kernel_size}, "
                f"shared_bias={self.bias is not None}")


class GroupNorm(nn.GroupNorm):
    """nn.GroupNorm, with the statistics taken by a plain reduction on a GPU.

    At batch 1 with 4 groups, torch's CUDA GroupNorm gives each (sample, group) row one
    thread block: 4 blocks reduce a quarter-million values each, ~36 us a call, a third
    of the whole forward pass at 126x504 (profile in docs/reports/2026-11-26-gpu-sessions.md). var_mean spreads the
    same reduction over the whole GPU. Same parameters and function (to rounding).
    """

    def forward(self, x):
        if not x.is_cuda:
            return super().forward(x)
        return group_norm_by_reduction(x, self.num_groups, self.weight, self.bias, self.eps)


def group_norm_by_reduction(x, groups: int, weight=None, bias=None, eps: float = 1e-5):
    """F.group_norm written as var_mean + elementwise operations (see GroupNorm)."""
    B, C = x.shape[:2]
    xg = x.reshape(B, groups, -1)
    var, mean = torch.var_mean(xg, dim=-1, keepdim=True, correction=0)
    y = ((xg - mean) * torch.rsqrt(var + eps)).view(x.shape)
    if weight is not None:
        y = torch.addcmul(bias.view(1, C, 1, 1), y, weight.view(1, C, 1, 1))
    return y


def make_conv(in_ch: int, out_ch: int, kernel_size: int, padding_mode: str,
              shared_bias: bool = False) -> nn.Module:
    """Same-size convolution: "learned" -> BoundaryConv2d, "zeros"/"replicate" -> nn.Conv2d.

    shared_bias only affects "learned" (see BoundaryConv2d).
    """
    if padding_mode == "learned":
        return BoundaryConv2d(in_ch, out_ch, kernel_size, shared_bias=shared_bias)
    if padding_mode in ("zeros", "replicate"):
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        return nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2,
                         padding_mode=padding_mode)
    raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")


CONV_IMPLS = ("banks", "stacked", "patched", "auto")


def set_conv_impl(model: nn.Module, impl: str) -> None:
    """Choose how every `BoundaryConv2d` in model runs (one of CONV_IMPLS, see there)."""
    if impl not in CONV_IMPLS:
        raise ValueError(f"conv impl must be one of {CONV_IMPLS}, got {impl!r}")
    for m in model.modules():
        if isinstance(m, BoundaryConv2d):
            m.impl = impl


def set_strip_streams(model: nn.Module, on: bool) -> None:
    """Turn the edge strips' side stream (GPU, "patched") on or off for the whole model."""
    for m in model.modules():
        if isinstance(m, BoundaryConv2d):
            m.strip_streams = bool(on)


def _bicubic_matrix(n_in: int, n_out: int, dtype, device) -> torch.Tensor:
    """(n_out, n_in): torch's 1D bicubic interpolation (align_corners=False) as a matrix,
    built by interpolating the unit vectors, so weights and border clamping are torch's."""
    eye = torch.eye(n_in, dtype=torch.float64).reshape(1, n_in, 1, n_in)
    cols = F.interpolate(eye, size=(1, n_out), mode="bicubic", align_corners=False)
    return cols.reshape(n_in, n_out).t().contiguous().to(dtype=dtype, device=device)


_BICUBIC: dict = {}


def upsample_bicubic(z, size):
    """F.interpolate(z, size, mode="bicubic", align_corners=False), the same function (to
    rounding; gradients too).

    On the CPU it runs as two small matrix products, Ay @ z @ Ax^T: torch's CPU bicubic
    kernel takes ~5 ms per call at 126x504 x 16 channels whatever the input size, 18 of
    the 137 ms of the surrogate's forward pass (docs/reports/2026-11-study-network-and-galerkin.md, "Cost"); the products
    take a fraction of that. A GPU keeps torch's kernel (13 us a call)."""
    if z.is_cuda:
        return F.interpolate(z, size=size, mode="bicubic", align_corners=False)
    (h, w), (H, W) = z.shape[-2:], tuple(size)
    mats = []
    for n_in, n_out in ((h, H), (w, W)):
        key = (n_in, n_out, z.dtype, z.device)
        if key not in _BICUBIC:
            with torch.inference_mode(False):       # reusable by training too
                _BICUBIC[key] = _bicubic_matrix(n_in, n_out, z.dtype, z.device)
        mats.append(_BICUBIC[key])
    ay, ax = mats
    if z.dim() == 4 and not z.is_contiguous() and z.is_contiguous(
            memory_format=torch.channels_last):
        # (B, h, w, C) in memory: x first, then y over whole rows; the result keeps the
        # channels-last layout the rest of the CPU network runs in
        B, C = z.shape[:2]
        t = torch.matmul(ax, z.permute(0, 2, 3, 1))                  # (B, h, W, C)
        return torch.matmul(ay, t.reshape(B, h, W * C)).reshape(B, H, W, C).permute(0, 3, 1, 2)
    return torch.matmul(torch.matmul(ay, z), ax.t())


def stream_to_mac_velocity(a, dx: float, dy: float):
    """Face velocities (u, v) from a stream function a at the cell centres (B, 1, ny, nx).

    psi lives on the cell corners (B, 1, ny+1, nx+1): each interior corner is the average of
    its four neighbouring centre values, every wall corner is exactly 0. Then
    u = d psi/dy on the vertical faces (B, 1, ny, nx+1) and v = -d psi/dx on the horizontal
    faces (B, 1, ny+1, nx). The discrete divergence of cell (j, i) telescopes to
    (psi[j+1,i+1] - psi[j,i+1] - psi[j+1,i] + psi[j,i]) (1/(dx dy) - 1/(dx dy)) = 0 in every
    cell, and psi = 0 along each wall makes the normal velocity exactly 0 there.
    """
    psi = F.pad(F.avg_pool2d(a, kernel_size=2, stride=1), (1, 1, 1, 1))
    u = (psi[..., 1:, :] - psi[..., :-1, :]) / dy
    v = -(psi[..., :, 1:] - psi[..., :, :-1]) / dx
    return u, v


def colocated_curl(a, dx: float, dy: float):
    """The study's co-located curl: u = da/dy, v = -da/dx at the cell centres.

    Central differences inside, one-sided at the edges (torch.gradient, edge_order=1).
    Returns uc, vc, each (B, 1, ny, nx). Unlike the MAC curl, its discrete divergence is not
    zero at the walls and the normal velocity there is whatever a's slope gives.
    """
    (u,) = torch.gradient(a, spacing=dy, dim=-2)
    (v,) = torch.gradient(a, spacing=dx, dim=-1)
    return u, -v


def centres_to_faces(uc, vc):
    """Average centred velocities to the MAC faces, with zero normal velocity on the walls.

    u faces (ny, nx+1): interior faces are the mean of the two neighbouring centres, the side
    wall columns 0. v faces (ny+1, nx): likewise along y, the bottom and top rows 0.
    """
    u = F.pad(0.5 * (uc[..., :, 1:] + uc[..., :, :-1]), (1, 1, 0, 0))
    v = F.pad(0.5 * (vc[..., 1:, :] + vc[..., :-1, :]), (0, 0, 1, 1))
    return u, v


def divergence(u, v, dx: float, dy: float):
    """Discrete divergence per cell: (u[j,i+1]-u[j,i])/dx + (v[j+1,i]-v[j,i])/dy -> (B,1,ny,nx)."""
    return (u[..., :, 1:] - u[..., :, :-1]) / dx + (v[..., 1:, :] - v[..., :-1, :]) / dy
