"""Building blocks of the Stokes surrogate: boundary-learned padding, the MAC curl, the model."""
import pytest
import torch
import torch.nn.functional as F

from pymantle.ml.networks.layers import (BoundaryConv2d, centres_to_faces, colocated_curl,
                                divergence, make_conv, stream_to_mac_velocity)
from pymantle.ml.training.losses import surrogate_loss
from pymantle.ml.networks.study import StokesSurrogate, SurrogateConfig, count_parameters

F64 = torch.float64
EDGE_BANKS = ("top", "bottom", "left", "right",
              "top_left", "top_right", "bottom_left", "bottom_right")


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


def _boundary_conv(in_ch=3, out_ch=4, k=5, seed=0):
    torch.manual_seed(seed)
    return BoundaryConv2d(in_ch, out_ch, k).to(F64)


def _expected_block(name, H, W, p):
    """Boolean (H, W) mask of the outputs the bank `name` produces."""
    rows = {"top": slice(0, p), "bottom": slice(H - p, H), "mid": slice(p, H - p)}
    cols = {"left": slice(0, p), "right": slice(W - p, W), "mid": slice(p, W - p)}
    r, c = {"top": ("top", "mid"), "bottom": ("bottom", "mid"), "left": ("mid", "left"),
            "right": ("mid", "right")}.get(name) or name.split("_")
    mask = torch.zeros(H, W, dtype=torch.bool)
    mask[rows[r], cols[c]] = True
    return mask


@pytest.mark.parametrize("shape", [(8, 32), (9, 30), (3, 5), (1, 2)])
@pytest.mark.parametrize("k", [3, 5])
def test_boundary_conv_equals_zero_padded_conv_with_shared_weights(shape, k):
    conv = _boundary_conv(k=k)
    ref = conv.banks["interior"]
    with torch.no_grad():
        for bank in conv.banks.values():
            bank.weight.copy_(ref.weight)
            bank.bias.copy_(ref.bias)
    x = torch.randn(2, 3, *shape, dtype=F64)
    out = conv(x)
    assert out.shape == (2, 4, *shape)
    torch.testing.assert_close(out, F.conv2d(x, ref.weight, ref.bias, padding=k // 2),
                               rtol=1e-12, atol=1e-12)


def test_boundary_conv_interior_independent_of_edge_banks():
    conv = _boundary_conv()
    x = torch.randn(2, 3, 8, 32, dtype=F64)
    ref = conv.banks["interior"]
    plain = F.conv2d(x, ref.weight, ref.bias, padding=2)
    out = conv(x)
    # Round-off only: the two calls may pick different convolution algorithms.
    torch.testing.assert_close(out[..., 2:-2, 2:-2], plain[..., 2:-2, 2:-2],
                               rtol=1e-12, atol=1e-12)
    # The edge banks have their own (different) weights, so the boundary differs.
    assert not torch.allclose(out[..., :2, :], plain[..., :2, :])
    with torch.no_grad():
        for name in EDGE_BANKS:
            conv.banks[name].weight.mul_(3.0)
    torch.testing.assert_close(conv(x)[..., 2:-2, 2:-2], out[..., 2:-2, 2:-2], rtol=0, atol=0)


@pytest.mark.parametrize("name", EDGE_BANKS)
def test_boundary_conv_edge_bank_changes_only_its_own_side(name):
    H, W, p = 9, 12, 2
    conv = _boundary_conv()
    x = torch.randn(2, 3, H, W, dtype=F64)
    before = conv(x)
    with torch.no_grad():
        conv.banks[name].weight.add_(0.5)
        conv.banks[name].bias.add_(0.5)
    changed = (conv(x) != before).any(dim=0).any(dim=0)
    assert torch.equal(changed, _expected_block(name, H, W, p))


def test_make_conv_modes_keep_the_size():
    x = torch.randn(1, 3, 6, 10)
    assert isinstance(make_conv(3, 4, 5, "learned"), BoundaryConv2d)
    for mode in ("learned", "zeros", "replicate"):
        assert make_conv(3, 4, 5, mode)(x).shape == (1, 4, 6, 10)
    assert make_conv(3, 4, 3, "replicate").padding_mode == "replicate"
    with pytest.raises(ValueError):
        make_conv(3, 4, 5, "reflect")


@pytest.mark.parametrize("shape", [(8, 32), (9, 30)])
def test_stream_to_mac_velocity_divergence_free_and_no_normal_flow(shape):
    ny, nx = shape
    dx, dy = 4.0 / nx, 1.0 / ny
    torch.manual_seed(1)
    a = torch.randn(3, 1, ny, nx, dtype=F64)
    u, v = stream_to_mac_velocity(a, dx, dy)
    assert u.shape == (3, 1, ny, nx + 1) and v.shape == (3, 1, ny + 1, nx)
    div = divergence(u, v, dx, dy)
    assert div.shape == (3, 1, ny, nx)
    assert div.abs().max() < 1e-12 * u.abs().max() / dx
    assert torch.all(u[..., 0] == 0) and torch.all(u[..., -1] == 0)
    assert torch.all(v[..., 0, :] == 0) and torch.all(v[..., -1, :] == 0)
    # Spot check against the corner stream function: psi(1,1) = mean of a's first 2x2 block,
    # psi on the bottom wall = 0, so u[0, 1] = psi(1,1)/dy.
    torch.testing.assert_close(u[:, 0, 0, 1], a[:, 0, :2, :2].mean(dim=(-2, -1)) / dy)


def test_colocated_curl_and_faces():
    ny, nx = 6, 10
    dx, dy = 4.0 / nx, 1.0 / ny
    yc = (torch.arange(ny, dtype=F64) + 0.5) * dy
    xc = (torch.arange(nx, dtype=F64) + 0.5) * dx
    a = (2.0 * yc[:, None] - 3.0 * xc[None, :]).expand(1, 1, ny, nx)
    uc, vc = colocated_curl(a, dx, dy)        # linear a: exact derivatives
    torch.testing.assert_close(uc, torch.full_like(a, 2.0))
    torch.testing.assert_close(vc, torch.full_like(a, 3.0))
    u, v = centres_to_faces(uc, vc)
    assert u.shape == (1, 1, ny, nx + 1) and v.shape == (1, 1, ny + 1, nx)
    assert torch.all(u[..., [0, -1]] == 0) and torch.all(v[..., [0, -1], :] == 0)
    torch.testing.assert_close(u[..., 1:-1], torch.full((1, 1, ny, nx - 1), 2.0, dtype=F64))


def _tiny(**kw):
    cfg = dict(width=4, levels=5, layers_per_level=1)
    cfg.update(kw)
    torch.manual_seed(0)
    return StokesSurrogate(SurrogateConfig(**cfg))


@pytest.mark.parametrize("shape", [(8, 32), (9, 30)])
@pytest.mark.parametrize("output", ["stream_mac", "stream_colocated", "soft"])
@pytest.mark.parametrize("padding", ["learned", "zeros", "replicate"])
def test_surrogate_output_shapes(shape, output, padding):
    ny, nx = shape
    model = _tiny(output=output, padding=padding)
    u, v = model(torch.randn(2, 7, ny, nx, dtype=F64))
    assert u.shape == (2, 1, ny, nx + 1) and v.shape == (2, 1, ny + 1, nx)
    assert u.dtype == F64
    assert torch.all(u[..., [0, -1]] == 0) and torch.all(v[..., [0, -1], :] == 0)


@pytest.mark.parametrize("shape", [(8, 32), (9, 30)])
def test_surrogate_mac_output_divergence_free(shape):
    ny, nx = shape
    model = _tiny()
    u, v = model(torch.randn(2, 7, ny, nx, dtype=F64))
    div = divergence(u, v, model.aspect / nx, 1.0 / ny)
    assert u.abs().max() > 0
    assert div.abs().max() < 1e-12 * u.abs().max() * nx / model.aspect


@pytest.mark.parametrize("output", ["stream_mac", "stream_colocated", "soft"])
def test_forward_is_features_then_velocities_from_features(output):
    # the GPU provider's mixed-precision path runs the two halves apart (features under
    # autocast, the curl in the model's precision): together they must be the forward pass
    model = _tiny(output=output)
    x = torch.randn(2, 7, 9, 30, dtype=F64)
    u, v = model(x)
    u2, v2 = model.velocities_from_features(model.features(x).float().double(), 9, 30)
    h = model.features(x)
    u3, v3 = model.velocities_from_features(h, 9, 30)
    assert torch.equal(u, u3) and torch.equal(v, v3)
    # float32 features (the autocast output cast back): divergence still at round-off
    if output == "stream_mac":
        div = divergence(u2, v2, model.aspect / 30, 1.0 / 9)
        assert div.abs().max() < 1e-12 * u2.abs().max() * 30 / model.aspect


def test_surrogate_parameter_counts_full_size():
    learned = count_parameters(StokesSurrogate(SurrogateConfig()))
    zeros = count_parameters(StokesSurrogate(SurrogateConfig(padding="zeros")))
    # As specified: 9 banks with their own biases; plain convolutions with a 5x5 head.
    assert learned == 2_133_385
    assert zeros == 237_953
    # The study's counts follow from one shared bias per learned conv and a 3x3 head for
    # the zero-padding model (see models.py).
    assert count_parameters(StokesSurrogate(SurrogateConfig(shared_bias=True))) == 2_129_153
    assert count_parameters(StokesSurrogate(
        SurrogateConfig(padding="zeros", head_kernel_size=3))) == 211_329


def test_surrogate_tiny_batch_overfits():
    ny, nx = 8, 16
    dx, dy = 4.0 / nx, 1.0 / ny
    torch.manual_seed(0)
    model = StokesSurrogate(SurrogateConfig(width=4, levels=2, layers_per_level=1))
    x = torch.randn(2, 7, ny, nx, dtype=F64)
    # Reachable targets: MAC velocities of a smooth random stream function.
    a = F.interpolate(torch.randn(2, 1, 3, 5, dtype=F64), size=(ny, nx), mode="bicubic",
                      align_corners=False)
    u_t, v_t = stream_to_mac_velocity(0.05 * a, dx, dy)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss, _ = surrogate_loss(*model(x), u_t, v_t, dx, dy)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert min(losses[-10:]) < 0.1 * losses[0]


@pytest.mark.parametrize("impl", ["stacked", "patched", "auto"])
@pytest.mark.parametrize("shared_bias", [False, True])
@pytest.mark.parametrize("shape", [(2, 3, 9, 13), (1, 3, 3, 5), (1, 3, 1, 7), (2, 3, 16, 63),
                                   (1, 3, 5, 6)])
def test_boundary_conv_gpu_impls_equal_banks(shape, shared_bias, impl):
    """The GPU's ways of computing the nine banks (one stacked convolution + gather; the
    interior bank with the edge strips patched over it) give the nine-bank function
    exactly, also where bands collapse on the coarsest levels, with the same gradients."""
    torch.manual_seed(1)
    conv = BoundaryConv2d(3, 4, 5, shared_bias=shared_bias).to(F64)
    x = torch.randn(*shape, dtype=F64, requires_grad=True)
    ref = conv(x)
    g_ref = torch.autograd.grad(ref.square().sum(), [x, conv.banks["top_left"].weight])
    conv.impl, conv.patch_min_cells = impl, 50     # auto: patched on the larger shapes
    out = conv(x)
    g = torch.autograd.grad(out.square().sum(), [x, conv.banks["top_left"].weight])
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_surrogate_gpu_impls_equal_banks():
    """set_conv_impl switches the whole model; the output does not change."""
    from pymantle.ml.networks.layers import set_conv_impl
    torch.manual_seed(2)
    m = StokesSurrogate(SurrogateConfig(width=8, levels=3, layers_per_level=1, groups=2))
    x = torch.randn(1, 7, 12, 48, dtype=F64)
    u0, v0 = m(x)
    for impl in ("stacked", "patched", "auto"):
        set_conv_impl(m, impl)
        u1, v1 = m(x)
        torch.testing.assert_close(u1, u0, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(v1, v0, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="banks"):
        set_conv_impl(m, "fast")


def test_group_norm_by_reduction_equals_torch_group_norm():
    """The GPU's GroupNorm path (var_mean + elementwise) is torch's group_norm."""
    from pymantle.ml.networks.layers import group_norm_by_reduction
    torch.manual_seed(3)
    x = torch.randn(2, 16, 9, 31, dtype=F64) * 3 + 1
    w, b = torch.randn(16, dtype=F64), torch.randn(16, dtype=F64)
    torch.testing.assert_close(group_norm_by_reduction(x, 4, w, b),
                               F.group_norm(x, 4, w, b), rtol=1e-12, atol=1e-12)


def test_boundary_conv_stack_cache_follows_parameter_changes():
    """Without autograd the stacked banks are cached; an in-place update of the weights (an
    optimiser step, load_state_dict) or a dtype change must rebuild them, so the cached
    result always equals the nine-bank function of the current parameters."""
    torch.manual_seed(4)
    conv = BoundaryConv2d(3, 4, 5).to(torch.float32)
    x = torch.randn(1, 3, 16, 40)
    for impl in ("stacked", "patched"):
        conv.impl = impl
        with torch.no_grad():
            first = conv(x)
            assert torch.equal(conv(x), first)              # served from the cache
            conv.banks["top"].weight.add_(0.5)              # in place: version changes
            conv.impl = "banks"
            ref = conv(x)
            conv.impl = impl
            torch.testing.assert_close(conv(x), ref, rtol=1e-5, atol=1e-5)
            assert not torch.allclose(ref, first)
        conv64 = conv.to(F64)
        with torch.no_grad():
            out = conv64(x.double())
        assert out.dtype == F64
        conv.to(torch.float32)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("shape,size", [((2, 3, 63, 252), (126, 504)), ((1, 4, 8, 32), (126, 504)),
                                        ((1, 2, 5, 7), (12, 30)), ((1, 1, 1, 1), (4, 4))])
def test_upsample_bicubic_equals_torch_interpolate(shape, size, channels_last):
    """The CPU's matrix form of the coarse levels' bicubic upsampling is torch's bicubic
    interpolation (align_corners=False, borders clamped), values and gradients."""
    from pymantle.ml.networks.layers import upsample_bicubic
    torch.manual_seed(5)
    z = torch.randn(*shape, dtype=F64)
    if channels_last:
        z = z.contiguous(memory_format=torch.channels_last)
    z.requires_grad_(True)
    ref = F.interpolate(z, size=size, mode="bicubic", align_corners=False)
    out = upsample_bicubic(z, size)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    g_ref, = torch.autograd.grad((ref * ref.detach()).sum(), z)
    g, = torch.autograd.grad((out * ref.detach()).sum(), z)
    torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-12)


def test_caches_made_in_inference_mode_serve_training():
    """Index and interpolation tensors cached during an inference_mode forward pass (the
    provider's) must still work in a later training step (inference tensors cannot be
    saved for backward)."""
    from pymantle.ml.networks.layers import set_conv_impl
    torch.manual_seed(6)
    m = StokesSurrogate(SurrogateConfig(width=8, levels=3, layers_per_level=1, groups=2,
                                        dtype=torch.float32))
    set_conv_impl(m, "stacked")
    x = torch.randn(1, 7, 13, 50)
    with torch.inference_mode():
        m(x)
    u, v = m(x)
    (u.square().mean() + v.square().mean()).backward()
    assert all(p.grad is not None for p in m.parameters())
