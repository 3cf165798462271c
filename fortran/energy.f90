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
  integer, parameter :: LIM_UPWIND = 0, LIM_MINMOD = 1, LIM_VANLEER = 2, LIM_MC = 3, &
                        LIM_SUPERBEE = 4
  ! Work arrays, kept between calls: allocating them per call costs more than the stencil
  ! itself on grids past ~64x256 (each large allocation is a fresh mmap with page faults).
  ! The kernels are called from one thread per process.
  real(8), allocatable, save :: tg(:, :), t1(:, :), r(:, :), sx(:, :), sy(:, :), &
                                fx(:, :), fy(:, :)
contains

  subroutine ensure_work(nx, ny)
    integer, intent(in) :: nx, ny
    if (allocated(tg)) then
      if (size(tg, 1) == nx + 2 .and. size(tg, 2) == ny + 2) return
      deallocate(tg, t1, r, sx, sy, fx, fy)
    end if
    allocate(tg(0:nx+1, 0:ny+1), t1(nx, ny), r(nx, ny), sx(nx, ny), sy(nx, ny))
    allocate(fx(nx+1, ny), fy(nx, ny+1))
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

  subroutine cell_slopes(nx, ny, limiter)
    ! sx, sy: limited slopes of every cell along x and y from the ghosted field tg. The
    ! limiter is chosen outside the loops so that each loop vectorises.
    integer, intent(in) :: nx, ny, limiter
    integer :: i, j
    select case (limiter)
    case (LIM_MINMOD)
      do j = 1, ny
        do i = 1, nx
          sx(i, j) = minmod(tg(i, j) - tg(i-1, j), tg(i+1, j) - tg(i, j))
          sy(i, j) = minmod(tg(i, j) - tg(i, j-1), tg(i, j+1) - tg(i, j))
        end do
      end do
    case (LIM_VANLEER)
      do j = 1, ny
        do i = 1, nx
          sx(i, j) = vanleer(tg(i, j) - tg(i-1, j), tg(i+1, j) - tg(i, j))
          sy(i, j) = vanleer(tg(i, j) - tg(i, j-1), tg(i, j+1) - tg(i, j))
        end do
      end do
    case (LIM_MC)
      do j = 1, ny
        do i = 1, nx
          sx(i, j) = mc(tg(i, j) - tg(i-1, j), tg(i+1, j) - tg(i, j))
          sy(i, j) = mc(tg(i, j) - tg(i, j-1), tg(i, j+1) - tg(i, j))
        end do
      end do
    case (LIM_SUPERBEE)
      do j = 1, ny
        do i = 1, nx
          sx(i, j) = superbee(tg(i, j) - tg(i-1, j), tg(i+1, j) - tg(i, j))
          sy(i, j) = superbee(tg(i, j) - tg(i, j-1), tg(i, j+1) - tg(i, j))
        end do
      end do
    case default                ! first-order upwind
      sx = 0.0d0
      sy = 0.0d0
    end select
  end subroutine cell_slopes

  subroutine advdiff_rhs(t, u, v, s, dx, dy, kappa, tbot, ttop, limiter, rhs, nx, ny)
    ! rhs = -div(u T) + kappa lap T + s
    !
    ! MUSCL: a face takes the value of its upwind cell extrapolated by half a limited slope,
    ! T_i + s_i/2 on the cell's right (upper) face and T_i - s_i/2 on its left (lower) face.
    ! The slopes are computed once per cell and direction; the upwind choice is branch-free.
    integer, intent(in) :: nx, ny, limiter
    real(8), intent(in) :: t(nx, ny), u(nx+1, ny), v(nx, ny+1), s(nx, ny)
    real(8), intent(in) :: dx, dy, kappa, tbot, ttop
    real(8), intent(out) :: rhs(nx, ny)
    integer :: i, j
    real(8) :: rdx, rdy, rdx2, rdy2, w

    call ensure_work(nx, ny)
    call fill_ghosts(t, tbot, ttop, tg, nx, ny)
    rdx = 1.0d0 / dx                            ! multiply, do not divide, in the loops
    rdy = 1.0d0 / dy
    rdx2 = kappa / (dx * dx)
    rdy2 = kappa / (dy * dy)
    call cell_slopes(nx, ny, limiter)

    ! fluxes; wall faces carry no advective flux (u = 0 on the sides, v = 0 top and bottom)
    do j = 1, ny
      fx(1, j) = 0.0d0
      fx(nx+1, j) = 0.0d0
      do i = 2, nx
        w = u(i, j)
        fx(i, j) = max(w, 0.0d0) * (t(i-1, j) + 0.5d0 * sx(i-1, j)) &
                 + min(w, 0.0d0) * (t(i, j) - 0.5d0 * sx(i, j))
      end do
    end do
    fy(:, 1) = 0.0d0
    fy(:, ny+1) = 0.0d0
    do j = 2, ny
      do i = 1, nx
        w = v(i, j)
        fy(i, j) = max(w, 0.0d0) * (t(i, j-1) + 0.5d0 * sy(i, j-1)) &
                 + min(w, 0.0d0) * (t(i, j) - 0.5d0 * sy(i, j))
      end do
    end do
    do j = 1, ny
      do i = 1, nx
        rhs(i, j) = -(fx(i+1, j) - fx(i, j)) * rdx - (fy(i, j+1) - fy(i, j)) * rdy &
                    + rdx2 * (tg(i+1, j) - 2.0d0 * tg(i, j) + tg(i-1, j)) &
                    + rdy2 * (tg(i, j+1) - 2.0d0 * tg(i, j) + tg(i, j-1)) + s(i, j)
      end do
    end do
  end subroutine advdiff_rhs

  subroutine step_ssprk2(t, u, v, s, dx, dy, dt, kappa, tbot, ttop, limiter, nx, ny)
    ! Advance T in place by one time step dt with frozen velocities and source.
    integer, intent(in) :: nx, ny, limiter
    real(8), intent(inout) :: t(nx, ny)
    real(8), intent(in) :: u(nx+1, ny), v(nx, ny+1), s(nx, ny), dx, dy, dt, kappa, tbot, ttop
    ! t1 and r are module work arrays that advdiff_rhs itself does not touch
    call ensure_work(nx, ny)
    call advdiff_rhs(t, u, v, s, dx, dy, kappa, tbot, ttop, limiter, r, nx, ny)
    t1 = t + dt * r
    call advdiff_rhs(t1, u, v, s, dx, dy, kappa, tbot, ttop, limiter, r, nx, ny)
    t = 0.5d0 * t + 0.5d0 * (t1 + dt * r)
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

end module energy
