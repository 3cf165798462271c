! The Galerkin correction's matrix (pymantle/galerkin_correction.py), in LAPACK band form.
!
! Span functions are stream functions on the cell corners psi = phi_n f_b (bilinear hats
! phi_n on a coarse lattice of nby x nbx nodes times each of nf corner fields f_b: the
! network's stream function, and the previous step's corrected one) and, with enrich = 1,
! psi = phi_n for the interior nodes (the "hat" functions). There are nk = nf + enrich
! kinds. Function (kind b, node (ay, ax)), all 0-based, has index
!     g = (ax * sx + ay * sy) * nk + b,
! with node strides (sx, sy) = (nby, 1) when nby <= nbx (nodes run up the short side
! first) and (1, nbx) otherwise. The corner strain's stencil spans two cells, so it couples
! nodes up to two lattice steps apart (a node on a corner couples the nodes on either side
! of it): A is banded with half-bandwidth ku = nk (2 min(nby, nbx) + 3) - 1, and its
! Cholesky costs O(K ku^2) instead of the O(K^3) of a dense one (K = nk nby nbx). Hats on
! the walls are not span functions: their rows stay zero and the caller drops them.
! A(k, l) is the discrete dissipation bilinear form of their curls, the same form as
! diagnostics.f90's dissipation (uniform grid): cell centres carry 2 eta_c (exx^2 + eyy^2)
! = 4 eta_c exx^2 (eyy = -exx for a curl), interior corners eta_n g^2, g = du/dy + dv/dx.
! Summed per strain entry: each entry's stencil (4 or 5 corners) touches at most 3 x 3
! lattice nodes when the lattice spacing is at least two cells, so its values for the
! functions it touches fit a local 3 x 3 array per kind; their outer product is added to
! the upper band ab(ku + k - l, l) = A(k, l), k <= l (1-based, LAPACK's dpbtrf 'U' layout).
module galerkin
  implicit none
contains

  subroutine lattice(n, nb, base, wt)
    ! Corner k = 0..n of a uniform row of n cells lies in lattice interval base(k)
    ! (0-based, nodes base, base + 1) at weight wt(k) towards the upper node.
    integer, intent(in) :: n, nb
    integer, intent(out) :: base(0:n)
    real(8), intent(out) :: wt(0:n)
    integer :: k
    do k = 0, n
      base(k) = min((k * (nb - 1)) / n, nb - 2)
      wt(k) = dble(k * (nb - 1) - base(k) * n) / dble(n)
    end do
  end subroutine lattice

  subroutine galerkin_matrix(f, eta_c, eta_n, dx, dy, nby, nbx, enrich, sx, sy, ku, kdim, &
                             ab, nx, ny, nf)
    integer, intent(in) :: nx, ny, nf, nby, nbx, enrich, sx, sy, ku, kdim
    real(8), intent(in) :: f(nx+1, ny+1, nf), eta_c(nx, ny), eta_n(nx+1, ny+1), dx, dy
    real(8), intent(out) :: ab(0:ku, kdim)
    integer :: bx(0:nx), by(0:ny), i, j, ci(5), cj(5)
    real(8) :: tx(0:nx), ty(0:ny), coef(5)
    call lattice(nx, nbx, bx, tx)
    call lattice(ny, nby, by, ty)
    ab = 0.0d0
    ! Cell centres: exx = (psi(i+1,j+1) - psi(i+1,j) - psi(i,j+1) + psi(i,j)) / (dx dy)
    do j = 1, ny
      do i = 1, nx
        ci(1:4) = (/ i + 1, i + 1, i, i /)
        cj(1:4) = (/ j + 1, j, j + 1, j /)
        coef(1:4) = (/ 1.0d0, -1.0d0, -1.0d0, 1.0d0 /) / (dx * dy)
        call add_entry(4, ci, cj, coef, 4.0d0 * eta_c(i, j), f, bx, tx, by, ty, nbx, nby, &
                       enrich, sx, sy, ab, ku, kdim, nx, ny, nf)
      end do
    end do
    ! Interior corners: g = (psi(i,j+1) - 2 psi(i,j) + psi(i,j-1)) / dy^2
    !                     - (psi(i+1,j) - 2 psi(i,j) + psi(i-1,j)) / dx^2
    do j = 2, ny
      do i = 2, nx
        ci = (/ i, i, i + 1, i - 1, i /)
        cj = (/ j + 1, j - 1, j, j, j /)
        coef = (/ 1.0d0 / dy**2, 1.0d0 / dy**2, -1.0d0 / dx**2, -1.0d0 / dx**2, &
                  2.0d0 / dx**2 - 2.0d0 / dy**2 /)
        call add_entry(5, ci, cj, coef, eta_n(i, j), f, bx, tx, by, ty, nbx, nby, &
                       enrich, sx, sy, ab, ku, kdim, nx, ny, nf)
      end do
    end do
  end subroutine galerkin_matrix

  subroutine add_entry(nc, ci, cj, coef, w, f, bx, tx, by, ty, nbx, nby, enrich, sx, sy, &
                       ab, ku, kdim, nx, ny, nf)
    ! One strain entry (stencil corners ci, cj with coefficients coef, weight w): its value
    ! for every span function it touches, then w times their outer product into A's upper
    ! band. Kind b = 1..nf: phi_n f_b; kind nf + 1: the hats.
    integer, intent(in) :: nc, ci(5), cj(5), nbx, nby, enrich, sx, sy, ku, kdim, nx, ny, nf
    integer, intent(in) :: bx(0:nx), by(0:ny)
    real(8), intent(in) :: coef(5), w, f(nx+1, ny+1, nf), tx(0:nx), ty(0:ny)
    real(8), intent(inout) :: ab(0:ku, kdim)
    ! Fixed-size locals (nf <= 2, checked by the caller): arrays sized by nf would be
    ! automatic, set up on every one of the ~10^5 calls; fixed ones made the whole sum
    ! 20 % faster at 126x504 (measured)
    integer :: m, p, q, ay, ax, kk, a0, b0, nnz, nk, idx(27), b, lo, hi
    real(8) :: wy(0:1), wx(0:1), c, s(0:2, 0:2, 3), val(27), wv
    nk = nf + enrich
    s = 0.0d0
    a0 = by(minval(cj(1:nc)) - 1)
    b0 = bx(minval(ci(1:nc)) - 1)
    do m = 1, nc
      ay = by(cj(m) - 1)
      ax = bx(ci(m) - 1)
      wy = (/ 1.0d0 - ty(cj(m) - 1), ty(cj(m) - 1) /)
      wx = (/ 1.0d0 - tx(ci(m) - 1), tx(ci(m) - 1) /)
      do p = 0, 1
        do q = 0, 1
          c = coef(m) * wy(p) * wx(q)
          do b = 1, nf
            s(ay + p - a0, ax + q - b0, b) = s(ay + p - a0, ax + q - b0, b) &
                                              + c * f(ci(m), cj(m), b)
          end do
          s(ay + p - a0, ax + q - b0, nf + 1) = s(ay + p - a0, ax + q - b0, nf + 1) + c
        end do
      end do
    end do
    ! The nonzero values and their indices; each pair once, into the upper band
    nnz = 0
    do q = 0, 2
      ax = b0 + q
      if (ax > nbx - 1) cycle
      do p = 0, 2
        ay = a0 + p
        if (ay > nby - 1) cycle
        do b = 1, nf
          if (s(p, q, b) /= 0.0d0) then
            nnz = nnz + 1
            idx(nnz) = (ax * sx + ay * sy) * nk + b
            val(nnz) = s(p, q, b)
          end if
        end do
        if (enrich == 1 .and. ay > 0 .and. ay < nby - 1 .and. ax > 0 .and. ax < nbx - 1 &
            .and. s(p, q, nf + 1) /= 0.0d0) then
          nnz = nnz + 1
          idx(nnz) = (ax * sx + ay * sy) * nk + nk
          val(nnz) = s(p, q, nf + 1)
        end if
      end do
    end do
    do m = 1, nnz
      wv = w * val(m)
      do kk = m, nnz
        lo = min(idx(m), idx(kk))
        hi = max(idx(m), idx(kk))
        ab(ku + lo - hi, hi) = ab(ku + lo - hi, hi) + wv * val(kk)
      end do
    end do
  end subroutine add_entry

end module galerkin
