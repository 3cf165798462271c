! The K x K matrix of the Galerkin correction (pymantle/galerkin_correction.py).
!
! Span functions are stream functions on the cell corners psi_k = phi_k f_b (bilinear hats
! phi_k on a coarse lattice of nby x nbx nodes times each of nf corner fields f_b: the
! network's stream function, and the previous step's corrected one) and, with enrich = 1,
! psi_k = phi_k for the interior nodes (the "hat" functions). Order: the nby * nbx
! functions of f_1, then of f_2, ..., then the hats.
! A(k, l) is the discrete dissipation bilinear form of their curls, the same form as
! diagnostics.f90's dissipation (uniform grid): cell centres carry 2 eta_c (exx^2 + eyy^2)
! = 4 eta_c exx^2 (eyy = -exx for a curl), interior corners eta_n g^2, g = du/dy + dv/dx.
! Summed per strain entry: each entry's stencil (4 or 5 corners) touches at most 3 x 3
! lattice nodes when the lattice spacing is at least two cells, so its values for the
! functions it touches fit a local 3 x 3 array per kind; their outer product is added to A.
! Cost O(cells x (9 (nf + 1))^2) at worst, no sparse matrix products (3-4 times faster
! than the SciPy assembly it replaced at 126x504, measured).
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

  subroutine galerkin_matrix(f, eta_c, eta_n, dx, dy, nby, nbx, enrich, kdim, a, nx, ny, nf)
    integer, intent(in) :: nx, ny, nf, nby, nbx, enrich, kdim
    real(8), intent(in) :: f(nx+1, ny+1, nf), eta_c(nx, ny), eta_n(nx+1, ny+1), dx, dy
    real(8), intent(out) :: a(kdim, kdim)
    integer :: bx(0:nx), by(0:ny), i, j, k, l, ci(5), cj(5), nc, knet
    real(8) :: tx(0:nx), ty(0:ny), coef(5), w
    call lattice(nx, nbx, bx, tx)
    call lattice(ny, nby, by, ty)
    knet = nby * nbx
    a = 0.0d0
    ! Cell centres: exx = (psi(i+1,j+1) - psi(i+1,j) - psi(i,j+1) + psi(i,j)) / (dx dy)
    do j = 1, ny
      do i = 1, nx
        nc = 4
        ci(1:4) = (/ i + 1, i + 1, i, i /)
        cj(1:4) = (/ j + 1, j, j + 1, j /)
        coef(1:4) = (/ 1.0d0, -1.0d0, -1.0d0, 1.0d0 /) / (dx * dy)
        w = 4.0d0 * eta_c(i, j)
        call add_entry(nc, ci, cj, coef, w, f, bx, tx, by, ty, nbx, nby, knet, enrich, &
                       a, kdim, nx, ny, nf)
      end do
    end do
    ! Interior corners: g = (psi(i,j+1) - 2 psi(i,j) + psi(i,j-1)) / dy^2
    !                     - (psi(i+1,j) - 2 psi(i,j) + psi(i-1,j)) / dx^2
    do j = 2, ny
      do i = 2, nx
        nc = 5
        ci = (/ i, i, i + 1, i - 1, i /)
        cj = (/ j + 1, j - 1, j, j, j /)
        coef = (/ 1.0d0 / dy**2, 1.0d0 / dy**2, -1.0d0 / dx**2, -1.0d0 / dx**2, &
                  2.0d0 / dx**2 - 2.0d0 / dy**2 /)
        w = eta_n(i, j)
        call add_entry(nc, ci, cj, coef, w, f, bx, tx, by, ty, nbx, nby, knet, enrich, &
                       a, kdim, nx, ny, nf)
      end do
    end do
    do l = 1, kdim                 ! only the upper triangle was summed
      do k = l + 1, kdim
        a(k, l) = a(l, k)
      end do
    end do
  end subroutine galerkin_matrix

  subroutine add_entry(nc, ci, cj, coef, w, f, bx, tx, by, ty, nbx, nby, knet, enrich, &
                       a, kdim, nx, ny, nf)
    ! One strain entry (stencil corners ci, cj with coefficients coef, weight w): its value
    ! for every span function it touches, then w times their outer product into A's upper
    ! triangle. Kind b = 1..nf: phi_k f_b; kind nf + 1: the hats.
    integer, intent(in) :: nc, ci(5), cj(5), nbx, nby, knet, enrich, kdim, nx, ny, nf
    integer, intent(in) :: bx(0:nx), by(0:ny)
    real(8), intent(in) :: coef(5), w, f(nx+1, ny+1, nf), tx(0:nx), ty(0:ny)
    real(8), intent(inout) :: a(kdim, kdim)
    integer :: m, p, q, ay, ax, kk, a0, b0, nnz, idx(9 * (nf + 1)), b
    real(8) :: wy(0:1), wx(0:1), c, s(0:2, 0:2, nf + 1), val(9 * (nf + 1))
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
    nnz = 0
    do p = 0, 2
      do q = 0, 2
        ay = a0 + p
        ax = b0 + q
        if (ay > nby - 1 .or. ax > nbx - 1) cycle
        do b = 1, nf
          if (s(p, q, b) /= 0.0d0) then
            nnz = nnz + 1
            idx(nnz) = (b - 1) * knet + ay * nbx + ax + 1
            val(nnz) = s(p, q, b)
          end if
        end do
        if (enrich == 1 .and. ay > 0 .and. ay < nby - 1 .and. ax > 0 .and. ax < nbx - 1 &
            .and. s(p, q, nf + 1) /= 0.0d0) then
          nnz = nnz + 1
          idx(nnz) = nf * knet + (ay - 1) * (nbx - 2) + ax
          val(nnz) = s(p, q, nf + 1)
        end if
      end do
    end do
    do m = 1, nnz
      do kk = 1, nnz
        if (idx(kk) >= idx(m)) a(idx(m), idx(kk)) = a(idx(m), idx(kk)) + w * val(m) * val(kk)
      end do
    end do
  end subroutine add_entry

end module galerkin
