"""SolCx: analytic Stokes flow with a sharp vertical viscosity jump.

The SolCx benchmark (Zhong, 1996, "Analytic solutions for Stokes' flow with
lateral variations in viscosity", Geophys. J. Int. 124, 18-28; used by
Duretz et al., 2011, G-cubed 12, Q07004, by ASPECT's ``benchmarks/solcx`` and
by Underworld's ``Velic_solCx`` analytic plugin) is posed on the unit box
``x, y in [0, 1]`` (``y`` points up) with free-slip walls and

    eta(x)  = eta_a  for x < x_c,   eta_b  for x > x_c
    f_y     = sin(n_z pi y) cos(n_x pi x)        (f_x = 0)

for the equations solved by pymantle,

    div u = 0,
    -grad p + div(eta (grad u + grad u^T)) + f_y e_y = 0.

Sign convention of the force
----------------------------
``solcx_force`` returns the term that is *added* on the left-hand side above,
``f_y = +sin(n_z pi y) cos(n_x pi x)``.  This is the same physical problem as
ASPECT's, whose material model uses density ``rho = -sin(pi y) cos(pi x)``
with gravity ``g = (0, -1)``, i.e. ``rho g_y = +sin(pi y) cos(pi x)``; the
velocity and pressure returned here therefore have the sign of
Underworld's/ASPECT's ``_Velic_solCx`` (whose particular solution,
``u_x ~ -k_z k_x sin(k_x x) / (eta K^4)``, ``p ~ -k_z cos(k_x x) / K^2``, is
reproduced exactly by this module).  tests/test_solcx_analytic.py confirms the
sign by evaluating the momentum residual (and every other condition below).

Method (own derivation; the facts -- separable form, which functions appear,
boundary and interface conditions -- follow Zhong (1996) and the Underworld /
ASPECT ``_Velic_solCx`` code, but the Maple-generated closed-form
coefficients of that code are *not* transcribed)
-----------------------------------------------------------------------------
Because the force is a single Fourier mode ``sin(k y)`` with ``k = n_z pi``
and the viscosity varies only with ``x``, the solution separates:

    stream function  psi = Phi(x) sin(k y),   u = d psi/dy,  v = -d psi/dx
    u = k Phi(x) cos(k y),   v = -Phi'(x) sin(k y),   p = P(x) cos(k y).

In each constant-viscosity column the curl of the momentum equation gives
``eta (D^2 - k^2)^2 Phi = d F/dx = -m sin(m x)`` with ``m = n_x pi``, hence

    Phi = [ (c1 + c2 s) e^{-k s} + (c3 + c4 t) e^{k t} - m sin(m x) / K^4 ] / eta,
    K^2 = m^2 + k^2,  s = x - (left edge of column),  t = x - (right edge).

(Measuring the exponentials from the column edges keeps every basis function
bounded by 1, so the linear system below stays well conditioned for any
``n_z``.)  The vertical momentum equation then gives the pressure,
``P = (eta (Phi''' - k^2 Phi') - cos(m x)) / k``.

The 8 constants (4 per column) follow from 8 linear conditions:

* free slip at x = 0 and x = 1: ``u = 0`` (``Phi = 0``) and zero shear stress
  (``eta (Phi'' + k^2 Phi) = 0``, i.e. ``Phi'' = 0``);
* at x = x_c: continuity of ``u`` and ``v`` (``Phi``, ``Phi'``) and of the
  traction on the interface, ``sigma_xy = -eta (Phi'' + k^2 Phi) sin(k y)``
  and ``sigma_xx = -p + 2 eta u_x = -(eta / k) (Phi''' - 3 k^2 Phi') cos(k y)``.

The walls y = 0, 1 are free slip automatically because ``sin(k y) = 0``
there for integer ``n_z`` (``v = 0`` and ``du/dy = -k U sin(k y) = 0``).
The 8x8 system is solved numerically once per parameter set and cached.

Pressure normalisation
----------------------
``p = P(x) cos(n_z pi y)`` and ``int_0^1 cos(n_z pi y) dy = 0`` for integer
``n_z >= 1``, so the returned pressure has *exactly zero mean* over the
domain (this is also the only pressure of this separable form, i.e. it is
the zero-mean representative of the solution).  Compare with a numerical
pressure only after removing the numerical pressure's mean.  The pressure
jumps across ``x = x_c``; points with ``x == x_c`` are assigned to the
``eta_b`` side, consistent with ``solcx_viscosity``.

Accuracy: velocities in the stiff column are ``O(eta_a / eta_b)`` smaller
than in the soft one and are obtained from a cancellation, so their
*relative* accuracy is roughly ``1e-16 * max(eta_a, eta_b)/min(eta_a, eta_b)``
(about 1e-10 for the standard contrast of 1e6).

Run ``python pymantle/analytic/solcx.py`` for a finite-difference self-check.
"""

import functools

import numpy as np

__all__ = ["solcx_force", "solcx_viscosity", "solcx_solution"]


# --------------------------------------------------------------------------
# Coefficients of the separable solution
# --------------------------------------------------------------------------

def _homogeneous_basis(x, left, right, k, order):
    """order-th x-derivative of the 4 homogeneous basis functions of a column.

    Basis: e^{-k s}, s e^{-k s}, e^{k t}, t e^{k t} with s = x - left and
    t = x - right.  Uses d^n/dx^n (s e^{l s}) = (l^n s + n l^{n-1}) e^{l s}.
    Returns an array of shape (4,) + x.shape.
    """
    x = np.asarray(x, dtype=float)
    s = x - left
    t = x - right
    e_dec = np.exp(-k * s)   # <= 1 inside the column
    e_inc = np.exp(k * t)    # <= 1 inside the column
    lam_d, lam_i = -k, k
    n = order  # for n = 0 the term n * lam**(n - 1) is 0 (k > 0, so finite)
    return np.stack([
        lam_d ** n * e_dec,
        (lam_d ** n * s + n * lam_d ** (n - 1)) * e_dec,
        lam_i ** n * e_inc,
        (lam_i ** n * t + n * lam_i ** (n - 1)) * e_inc,
    ])


def _particular(x, m, k, order):
    """order-th derivative of eta * Phi_p = -m sin(m x) / K^4."""
    x = np.asarray(x, dtype=float)
    amp = -m / (m * m + k * k) ** 2
    # d^n/dx^n sin(m x) = m^n sin(m x + n pi / 2)
    return amp * m ** order * np.sin(m * x + 0.5 * np.pi * order)


@functools.lru_cache(maxsize=128)
def _coefficients(eta_a, eta_b, x_c, n_x, n_z):
    """Solve the 8x8 system for the homogeneous coefficients.

    Returns a (2, 4) array: row 0 for the column x < x_c (viscosity eta_a),
    row 1 for x > x_c (eta_b).  In column i, eta_i * Phi is
    ``coef[i] . basis + particular`` -- pulling 1/eta_i out of the
    coefficients keeps both rows O(1) even for a 1e6 viscosity contrast.
    """
    if not 0.0 < x_c < 1.0:
        raise ValueError("x_c must lie strictly inside (0, 1)")
    if eta_a <= 0.0 or eta_b <= 0.0:
        raise ValueError("viscosities must be positive")
    if n_z != int(n_z) or n_z < 1:
        # sin(n_z pi y) must vanish on y = 0, 1 for free slip there.
        raise ValueError("n_z must be a positive integer")
    k = n_z * np.pi
    m = n_x * np.pi
    k2 = k * k
    etas = (eta_a, eta_b)
    edges = ((0.0, x_c), (x_c, 1.0))

    def phi_row(col, x0, order):
        """(coefficient row of length 4, known part) of Phi^(order)(x0)."""
        left, right = edges[col]
        return (_homogeneous_basis(x0, left, right, k, order) / etas[col],
                float(_particular(x0, m, k, order)) / etas[col])

    A = np.zeros((8, 8))
    rhs = np.zeros(8)

    def add(row, col, scale, order, x0):
        vec, known = phi_row(col, x0, order)
        A[row, 4 * col:4 * col + 4] += scale * vec
        rhs[row] -= scale * known

    # Free slip on x = 0 (column a) and x = 1 (column b): Phi = Phi'' = 0.
    add(0, 0, 1.0, 0, 0.0)
    add(1, 0, 1.0, 2, 0.0)
    add(2, 1, 1.0, 0, 1.0)
    add(3, 1, 1.0, 2, 1.0)
    # Interface x = x_c: [Phi] = [Phi'] = 0 (continuous u and v).
    for row, order in ((4, 0), (5, 1)):
        add(row, 0, 1.0, order, x_c)
        add(row, 1, -1.0, order, x_c)
    # [eta (Phi'' + k^2 Phi)] = 0 (continuous shear traction sigma_xy).
    for col, sign in ((0, 1.0), (1, -1.0)):
        add(6, col, sign * etas[col], 2, x_c)
        add(6, col, sign * etas[col] * k2, 0, x_c)
    # [eta (Phi''' - 3 k^2 Phi')] = 0 (continuous normal traction sigma_xx;
    # the forcing term cos(m x)/k in P is the same on both sides and cancels).
    for col, sign in ((0, 1.0), (1, -1.0)):
        add(7, col, sign * etas[col], 3, x_c)
        add(7, col, -3.0 * sign * etas[col] * k2, 1, x_c)

    # Row equilibration: rows mix 1/eta_a and 1/eta_b scales.
    scale = np.abs(A).max(axis=1)
    coef = np.linalg.solve(A / scale[:, None], rhs / scale)
    return coef.reshape(2, 4)


def _phi_derivatives(x, col, eta_a, eta_b, x_c, n_x, n_z):
    """Phi, Phi', Phi'', Phi''' of column ``col`` (0: eta_a, 1: eta_b) at x."""
    coef = _coefficients(float(eta_a), float(eta_b), float(x_c),
                         float(n_x), int(n_z))
    k = n_z * np.pi
    m = n_x * np.pi
    left, right = ((0.0, x_c), (x_c, 1.0))[col]
    eta = (eta_a, eta_b)[col]
    out = []
    for order in range(4):
        basis = _homogeneous_basis(x, left, right, k, order)
        val = np.tensordot(coef[col], basis, axes=1) + _particular(x, m, k, order)
        out.append(val / eta)
    return out


def _fields(x, y, eta_a, eta_b, x_c, n_x, n_z, side=None):
    """u, v, p at (x, y).  side=None picks the column from x; side=0 or 1
    forces the analytic formula of that column (used to test the interface).
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float),
                               np.asarray(y, dtype=float))
    k = n_z * np.pi
    m = n_x * np.pi
    U = np.empty(x.shape)
    V = np.empty(x.shape)
    P = np.empty(x.shape)
    if side is None:
        masks = ((0, x < x_c), (1, ~(x < x_c)))
    else:
        masks = ((side, np.ones(x.shape, dtype=bool)),)
    for col, mask in masks:
        if not np.any(mask):
            continue
        xs = x[mask]
        phi, dphi, _, d3phi = _phi_derivatives(xs, col, eta_a, eta_b, x_c,
                                               n_x, n_z)
        eta = (eta_a, eta_b)[col]
        U[mask] = k * phi
        V[mask] = -dphi
        # From the y-momentum equation: k P + eta (V'' - k^2 V) + F = 0.
        P[mask] = (eta * (d3phi - k * k * dphi) - np.cos(m * xs)) / k
    c, s = np.cos(k * y), np.sin(k * y)
    return U * c, V * s, P * c


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------

def solcx_viscosity(x, y, eta_a=1.0, eta_b=1e6, x_c=0.5):
    """Viscosity: eta_a for x < x_c, eta_b for x >= x_c (shape of x, y)."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float),
                               np.asarray(y, dtype=float))
    return np.where(x < x_c, float(eta_a), float(eta_b))


def solcx_force(x, y, eta_a=1.0, eta_b=1e6, x_c=0.5, n_x=1, n_z=1):
    """Vertical body force f_y = +sin(n_z pi y) cos(n_x pi x).

    Sign convention: f_y is the term *added* on the left-hand side of
    ``-grad p + div(eta (grad u + grad u^T)) + f_y e_y = 0`` (equivalently
    rho g_y with rho = -sin cos and gravity pointing down, as in ASPECT).
    The viscosity arguments are accepted for a uniform API and unused.
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float),
                               np.asarray(y, dtype=float))
    return np.sin(n_z * np.pi * y) * np.cos(n_x * np.pi * x)


def solcx_solution(x, y, eta_a=1.0, eta_b=1e6, x_c=0.5, n_x=1, n_z=1):
    """Exact (u, v, p) of SolCx at points (x, y).

    u, v are continuous; p has exactly zero mean over the unit square and
    jumps across x = x_c (points on x == x_c take the eta_b-side value).
    ``n_z`` must be a positive integer; ``n_x`` may be any real number.
    """
    return _fields(x, y, eta_a, eta_b, x_c, n_x, n_z)
