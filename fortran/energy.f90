! Energy equation dT/dt + div(u T) = kappa lap T + s  on the MAC grid, finite volumes.
!
! Advection is written in flux form with face velocities, so the heat carried out of one
! cell is exactly the heat carried into its neighbour: total heat changes only through the
! walls (diffusion) and the source s. Face temperatures come from an upwind-biased MUSCL
! reconstruction with a slope limiter (TVD), which keeps T free of new extrema.
! Time integration: two-stage strong-stability-preserving Runge-Kutta (Heun / SSP-RK2),
! which keeps the TVD property of each forward-Euler stage at second order in time.
!
! Layouts (1-based, Fortran view of the NumPy (ny, nx) C arrays):
!   t(nx, ny)     cell centres
!   u(nx+1, ny)   vertical faces; face i at x = (i-1) dx, so face i is the left face of cell i
!   v(nx, ny+1)   horizontal faces; face j at y = (j-1) dy, the bottom face of cell j
!   s(nx, ny)     volumetric heat source at centres (internal heating and any extra terms)
module energy
  use boundary, only: fill_ghosts
  implicit none
  ! The helpers are private: a public module procedure in position-independent code can be
  ! interposed at link time, so gfortran would not inline it and the limiter loops would
  ! not vectorise (this alone made the step ~2.3x faster).
  private :: ensure_work, minmod, vanleer, mc, superbee, slope_row, row_fluxes, rhs_rows, &
             rhs_rows_y, row_coefficients
  integer, parameter :: LIM_UPWIND = 0, LIM_MINMOD = 1, LIM_VANLEER = 2, LIM_MC = 3, &
                        LIM_SUPERBEE = 4
  ! Ghosted work fields, kept between calls: allocating them per call costs more than the
  ! stencil itself on grids past ~64x256 (each large allocation is a fresh mmap with page
  ! faults). The kernels are called from one thread per process.
  real(8), allocatable, save :: ga(:, :), gb(:, :)
contains

  subroutine ensure_work(nx, ny)
    integer, intent(in) :: nx, ny
    if (allocated(ga)) then
      if (size(ga, 1) == nx + 2 .and. size(ga, 2) == ny + 2) return
      deallocate(ga, gb)
    end if
    allocate(ga(0:nx+1, 0:ny+1), gb(0:nx+1, 0:ny+1))
  end subroutine ensure_work

  ! Limited slopes of a cell from its backward (a) and forward (b) differences; zero at
  ! extrema (a b <= 0). Written branch-free (0.5 (sign a + sign b) is +-1 or 0), so the
  ! loops below vectorise; the values equal the textbook forms exactly.
  pure elemental real(8) function minmod(a, b)
    real(8), intent(in) :: a, b
    minmod = 0.5d0 * (sign(1.0d0, a) + sign(1.0d0, b)) * min(abs(a), abs(b))
  end function minmod

  pure elemental real(8) function vanleer(a, b)
    real(8), intent(in) :: a, b
    ! (a|b| + |a|b) / (|a| + |b|) = 2ab / (a + b) where a b > 0, else 0
    vanleer = (a * abs(b) + abs(a) * b) / (abs(a) + abs(b) + 1.0d-300)
  end function vanleer

  pure elemental real(8) function mc(a, b)
    real(8), intent(in) :: a, b
    mc = 0.5d0 * (sign(1.0d0, a) + sign(1.0d0, b)) &
         * min(2.0d0 * abs(a), 2.0d0 * abs(b), 0.5d0 * abs(a + b))
  end function mc

  pure elemental real(8) function superbee(a, b)
    real(8), intent(in) :: a, b
    superbee = 0.5d0 * (sign(1.0d0, a) + sign(1.0d0, b)) &
               * max(min(2.0d0 * abs(a), abs(b)), min(abs(a), 2.0d0 * abs(b)))
  end function superbee

  subroutine slope_row(a, b, c, sl, n, limiter)
    ! sl(i): limited slope of a cell with value b(i) between neighbours a(i) and c(i)
    ! (one row along x, or three rows for the slopes along y). The limiter is chosen
    ! outside the loops, one loop per limiter, so that each loop vectorises.
    integer, intent(in) :: n, limiter
    real(8), intent(in) :: a(n), b(n), c(n)
    real(8), intent(out) :: sl(n)
    integer :: i
    select case (limiter)
    case (LIM_MINMOD)
      do i = 1, n
        sl(i) = minmod(b(i) - a(i), c(i) - b(i))
      end do
    case (LIM_VANLEER)
      do i = 1, n
        sl(i) = vanleer(b(i) - a(i), c(i) - b(i))
      end do
    case (LIM_MC)
      do i = 1, n
        sl(i) = mc(b(i) - a(i), c(i) - b(i))
      end do
    case (LIM_SUPERBEE)
      do i = 1, n
        sl(i) = superbee(b(i) - a(i), c(i) - b(i))
      end do
    case default                ! first-order upwind
      sl = 0.0d0
    end select
  end subroutine slope_row

  subroutine row_fluxes(tg, u, v, nx, ny, j, lo, hi, limiter, sx, sy, fx, fy)
    ! The advective fluxes of row j, shared by the uniform and the stretched kernels:
    ! through its top face (face j+1) into fy(:, hi), with the slopes along y of row j+1
    ! into sy(:, hi) (those of row j are in sy(:, lo)); through its vertical faces into
    ! fx(2:nx) (the side-wall entries fx(1), fx(nx+1) stay 0).
    integer, intent(in) :: nx, ny, j, lo, hi, limiter
    real(8), intent(in) :: tg(0:nx+1, 0:ny+1), u(nx+1, ny), v(nx, ny+1)
    real(8), intent(inout) :: sx(nx), sy(nx, 0:1), fx(nx+1), fy(nx, 0:1)
    integer :: i
    real(8) :: c
    if (j < ny) then
      call slope_row(tg(1, j), tg(1, j+1), tg(1, j+2), sy(1, hi), nx, limiter)
      do i = 1, nx
        c = v(i, j+1)
        fy(i, hi) = max(c, 0.0d0) * (tg(i, j) + 0.5d0 * sy(i, lo)) &
                  + min(c, 0.0d0) * (tg(i, j+1) - 0.5d0 * sy(i, hi))
      end do
    else
      fy(:, hi) = 0.0d0           ! top wall
    end if
    call slope_row(tg(0, j), tg(1, j), tg(2, j), sx, nx, limiter)
    do i = 2, nx
      c = u(i, j)
      fx(i) = max(c, 0.0d0) * (tg(i-1, j) + 0.5d0 * sx(i-1)) &
            + min(c, 0.0d0) * (tg(i, j) - 0.5d0 * sx(i))
    end do
  end subroutine row_fluxes

  subroutine rhs_rows(tg, u, v, s, nx, ny, rdx, rdy, kx, ky, limiter, mode, dt, w, wg)
    ! rhs = -div(u T) + kappa lap T + s of the ghosted field tg, one row (fixed y) at a
    ! time, and what is done with it:
    !   mode 0: w = rhs                                  (wg not referenced)
    !   mode 1: wg = tg + dt rhs, interior and side ghosts (w not referenced)
    !   mode 2: w = 0.5 w + 0.5 (tg + dt rhs)             (wg not referenced)
    !
    ! MUSCL: a face takes the value of its upwind cell extrapolated by half a limited slope,
    ! T_i + s_i/2 on the cell's right (upper) face and T_i - s_i/2 on its left (lower) face.
    ! The slopes are computed once per cell and direction, the fluxes once per face; the
    ! upwind choice is branch-free. Only row-sized buffers are used: the slopes along y and
    ! the fluxes through the horizontal faces of the row below are carried to the next row
    ! (columns lo and hi of sy and fy swap), so each field passes through the cache once
    ! per stage. The rhs expression is repeated in each mode so that each is one loop.
    integer, intent(in) :: nx, ny, limiter, mode
    real(8), intent(in) :: tg(0:nx+1, 0:ny+1), u(nx+1, ny), v(nx, ny+1), s(nx, ny)
    real(8), intent(in) :: rdx, rdy, kx, ky, dt
    real(8), intent(inout) :: w(nx, ny), wg(0:nx+1, 0:ny+1)
    real(8) :: sx(nx), fx(nx+1), sy(nx, 0:1), fy(nx, 0:1)
    integer :: i, j, lo, hi
    real(8) :: rr

    ! slopes along y of row 1; the bottom wall carries no advective flux (v = 0)
    lo = 0
    call slope_row(tg(1, 0), tg(1, 1), tg(1, 2), sy(1, lo), nx, limiter)
    fy(:, lo) = 0.0d0
    fx(1) = 0.0d0                 ! side walls (u = 0)
    fx(nx+1) = 0.0d0
    do j = 1, ny
      hi = 1 - lo
      call row_fluxes(tg, u, v, nx, ny, j, lo, hi, limiter, sx, sy, fx, fy)
      select case (mode)
      case (0)
        do i = 1, nx
          w(i, j) = -(fx(i+1) - fx(i)) * rdx - (fy(i, hi) - fy(i, lo)) * rdy &
                    + kx * (tg(i+1, j) - 2.0d0 * tg(i, j) + tg(i-1, j)) &
                    + ky * (tg(i, j+1) - 2.0d0 * tg(i, j) + tg(i, j-1)) + s(i, j)
        end do
      case (1)
        do i = 1, nx
          rr = -(fx(i+1) - fx(i)) * rdx - (fy(i, hi) - fy(i, lo)) * rdy &
               + kx * (tg(i+1, j) - 2.0d0 * tg(i, j) + tg(i-1, j)) &
               + ky * (tg(i, j+1) - 2.0d0 * tg(i, j) + tg(i, j-1)) + s(i, j)
          wg(i, j) = tg(i, j) + dt * rr
        end do
        wg(0, j) = wg(1, j)
        wg(nx+1, j) = wg(nx, j)
      case default
        do i = 1, nx
          rr = -(fx(i+1) - fx(i)) * rdx - (fy(i, hi) - fy(i, lo)) * rdy &
               + kx * (tg(i+1, j) - 2.0d0 * tg(i, j) + tg(i-1, j)) &
               + ky * (tg(i, j+1) - 2.0d0 * tg(i, j) + tg(i, j-1)) + s(i, j)
          w(i, j) = 0.5d0 * w(i, j) + 0.5d0 * (tg(i, j) + dt * rr)
        end do
      end select
      lo = hi
    end do
  end subroutine rhs_rows

  subroutine advdiff_rhs(t, u, v, s, dx, dy, kappa, tbot, ttop, limiter, rhs, nx, ny)
    ! rhs = -div(u T) + kappa lap T + s
    integer, intent(in) :: nx, ny, limiter
    real(8), intent(in) :: t(nx, ny), u(nx+1, ny), v(nx, ny+1), s(nx, ny)
    real(8), intent(in) :: dx, dy, kappa, tbot, ttop
    real(8), intent(out) :: rhs(nx, ny)

    call ensure_work(nx, ny)
    call fill_ghosts(t, tbot, ttop, ga, nx, ny)
    ! multiply, do not divide, in the loops
    call rhs_rows(ga, u, v, s, nx, ny, 1.0d0 / dx, 1.0d0 / dy, kappa / (dx * dx), &
                  kappa / (dy * dy), limiter, 0, 0.0d0, rhs, gb)
  end subroutine advdiff_rhs

  subroutine step_ssprk2(t, u, v, s, dx, dy, dt, kappa, tbot, ttop, limiter, nx, ny)
    ! Advance T in place by one time step dt with frozen velocities and source:
    ! t1 = t + dt rhs(t), then t = t/2 + (t1 + dt rhs(t1))/2.
    integer, intent(in) :: nx, ny, limiter
    real(8), intent(inout) :: t(nx, ny)
    real(8), intent(in) :: u(nx+1, ny), v(nx, ny+1), s(nx, ny), dx, dy, dt, kappa, tbot, ttop
    real(8) :: rdx, rdy, kx, ky
    integer :: i

    call ensure_work(nx, ny)
    rdx = 1.0d0 / dx
    rdy = 1.0d0 / dy
    kx = kappa / (dx * dx)
    ky = kappa / (dy * dy)
    call fill_ghosts(t, tbot, ttop, ga, nx, ny)
    ! stage 1 writes t1 straight into the ghosted gb, side ghosts included; the wall ghost
    ! rows are those of fill_ghosts
    call rhs_rows(ga, u, v, s, nx, ny, rdx, rdy, kx, ky, limiter, 1, dt, t, gb)
    do i = 0, nx + 1
      gb(i, 0) = 2.0d0 * tbot - gb(i, 1)
      gb(i, ny+1) = 2.0d0 * ttop - gb(i, ny)
    end do
    call rhs_rows(gb, u, v, s, nx, ny, rdx, rdy, kx, ky, limiter, 2, dt, t, ga)
  end subroutine step_ssprk2

  subroutine wall_heat_flux(t, dx, dy, kappa, tbot, ttop, qtop, qbot, nx, ny)
    ! Total conductive heat flux through the top (out) and bottom (in) walls, exactly as the
    ! scheme above computes it, so that d/dt sum(T) dA = qbot - qtop + sum(s) dA.
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: t(nx, ny), dx, dy, kappa, tbot, ttop
    real(8), intent(out) :: qtop, qbot
    qtop = kappa * sum(2.0d0 * (t(:, ny) - ttop) / dy) * dx
    qbot = kappa * sum(2.0d0 * (tbot - t(:, 1)) / dy) * dx
  end subroutine wall_heat_flux

  ! ---- Grids stretched in y ---------------------------------------------------------------
  ! Row j has height hy(j); centres sit at the midpoints of their faces, so the distance
  ! between centres j-1 and j is (hy(j-1) + hy(j)) / 2, and a wall ghost (mirrored through
  ! the wall) sits hy(1) (hy(ny)) from its cell. The uniform kernels above are kept as they
  ! are, so that uniform runs stay bit-identical; these take per-row coefficients.

  subroutine row_coefficients(hy, kappa, rdy, kup, kdn, ny)
    ! rdy = 1/h_j; kup, kdn = kappa / (h_j d) with d the distance to the centre above/below
    integer, intent(in) :: ny
    real(8), intent(in) :: hy(ny), kappa
    real(8), intent(out) :: rdy(ny), kup(ny), kdn(ny)
    integer :: j
    do j = 1, ny
      rdy(j) = 1.0d0 / hy(j)
      if (j < ny) then
        kup(j) = kappa / (hy(j) * 0.5d0 * (hy(j) + hy(j+1)))
      else
        kup(j) = kappa / (hy(j) * hy(j))
      end if
      if (j > 1) then
        kdn(j) = kappa / (hy(j) * 0.5d0 * (hy(j-1) + hy(j)))
      else
        kdn(j) = kappa / (hy(j) * hy(j))
      end if
    end do
  end subroutine row_coefficients

  subroutine rhs_rows_y(tg, u, v, s, nx, ny, rdx, kx, rdy, kup, kdn, limiter, mode, dt, w, wg)
    ! As rhs_rows, with per-row 1/h_j and diffusion coefficients. The MUSCL slopes are in
    ! index space: the face fluxes stay single-valued (conservative) and the limited
    ! reconstruction stays TVD; on a smoothly stretched grid it is still second order.
    integer, intent(in) :: nx, ny, limiter, mode
    real(8), intent(in) :: tg(0:nx+1, 0:ny+1), u(nx+1, ny), v(nx, ny+1), s(nx, ny)
    real(8), intent(in) :: rdx, kx, rdy(ny), kup(ny), kdn(ny), dt
    real(8), intent(inout) :: w(nx, ny), wg(0:nx+1, 0:ny+1)
    real(8) :: sx(nx), fx(nx+1), sy(nx, 0:1), fy(nx, 0:1), rr(nx)
    integer :: i, j, lo, hi

    lo = 0
    call slope_row(tg(1, 0), tg(1, 1), tg(1, 2), sy(1, lo), nx, limiter)
    fy(:, lo) = 0.0d0
    fx(1) = 0.0d0
    fx(nx+1) = 0.0d0
    do j = 1, ny
      hi = 1 - lo
      call row_fluxes(tg, u, v, nx, ny, j, lo, hi, limiter, sx, sy, fx, fy)
      do i = 1, nx
        rr(i) = -(fx(i+1) - fx(i)) * rdx - (fy(i, hi) - fy(i, lo)) * rdy(j) &
                + kx * (tg(i+1, j) - 2.0d0 * tg(i, j) + tg(i-1, j)) &
                + kup(j) * (tg(i, j+1) - tg(i, j)) - kdn(j) * (tg(i, j) - tg(i, j-1)) &
                + s(i, j)
      end do
      select case (mode)
      case (0)
        w(:, j) = rr
      case (1)
        wg(1:nx, j) = tg(1:nx, j) + dt * rr
        wg(0, j) = wg(1, j)
        wg(nx+1, j) = wg(nx, j)
      case default
        w(:, j) = 0.5d0 * w(:, j) + 0.5d0 * (tg(1:nx, j) + dt * rr)
      end select
      lo = hi
    end do
  end subroutine rhs_rows_y

  subroutine advdiff_rhs_y(t, u, v, s, dx, hy, kappa, tbot, ttop, limiter, rhs, nx, ny)
    ! rhs = -div(u T) + kappa lap T + s on a grid with row heights hy
    integer, intent(in) :: nx, ny, limiter
    real(8), intent(in) :: t(nx, ny), u(nx+1, ny), v(nx, ny+1), s(nx, ny)
    real(8), intent(in) :: dx, hy(ny), kappa, tbot, ttop
    real(8), intent(out) :: rhs(nx, ny)
    real(8) :: rdy(ny), kup(ny), kdn(ny)

    call ensure_work(nx, ny)
    call fill_ghosts(t, tbot, ttop, ga, nx, ny)
    call row_coefficients(hy, kappa, rdy, kup, kdn, ny)
    call rhs_rows_y(ga, u, v, s, nx, ny, 1.0d0 / dx, kappa / (dx * dx), rdy, kup, kdn, &
                    limiter, 0, 0.0d0, rhs, gb)
  end subroutine advdiff_rhs_y

  subroutine step_ssprk2_y(t, u, v, s, dx, hy, dt, kappa, tbot, ttop, limiter, nx, ny)
    ! step_ssprk2 on a grid with row heights hy
    integer, intent(in) :: nx, ny, limiter
    real(8), intent(inout) :: t(nx, ny)
    real(8), intent(in) :: u(nx+1, ny), v(nx, ny+1), s(nx, ny), dx, hy(ny), dt, kappa, &
                           tbot, ttop
    real(8) :: rdy(ny), kup(ny), kdn(ny)
    integer :: i

    call ensure_work(nx, ny)
    call row_coefficients(hy, kappa, rdy, kup, kdn, ny)
    call fill_ghosts(t, tbot, ttop, ga, nx, ny)
    call rhs_rows_y(ga, u, v, s, nx, ny, 1.0d0 / dx, kappa / (dx * dx), rdy, kup, kdn, &
                    limiter, 1, dt, t, gb)
    do i = 0, nx + 1
      gb(i, 0) = 2.0d0 * tbot - gb(i, 1)
      gb(i, ny+1) = 2.0d0 * ttop - gb(i, ny)
    end do
    call rhs_rows_y(gb, u, v, s, nx, ny, 1.0d0 / dx, kappa / (dx * dx), rdy, kup, kdn, &
                    limiter, 2, dt, t, ga)
  end subroutine step_ssprk2_y

  subroutine wall_heat_flux_y(t, dx, hy, kappa, tbot, ttop, qtop, qbot, nx, ny)
    ! wall_heat_flux with the wall cells' own heights (wall at half the first cell)
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: t(nx, ny), dx, hy(ny), kappa, tbot, ttop
    real(8), intent(out) :: qtop, qbot
    qtop = kappa * sum(2.0d0 * (t(:, ny) - ttop) / hy(ny)) * dx
    qbot = kappa * sum(2.0d0 * (tbot - t(:, 1)) / hy(1)) * dx
  end subroutine wall_heat_flux_y

end module energy
