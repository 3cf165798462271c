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
contains

  pure function limited_slope(dl, dr, limiter) result(s)
    ! Limited slope from the backward (dl) and forward (dr) differences of the upwind cell.
    real(8), intent(in) :: dl, dr
    integer, intent(in) :: limiter
    real(8) :: s
    s = 0.0d0
    if (dl * dr <= 0.0d0) return
    select case (limiter)
    case (LIM_MINMOD)
      s = sign(min(abs(dl), abs(dr)), dl)
    case (LIM_VANLEER)
      s = 2.0d0 * dl * dr / (dl + dr)
    case (LIM_MC)
      s = sign(min(2.0d0 * abs(dl), 2.0d0 * abs(dr), 0.5d0 * abs(dl + dr)), dl)
    case (LIM_SUPERBEE)
      s = sign(max(min(2.0d0 * abs(dl), abs(dr)), min(abs(dl), 2.0d0 * abs(dr))), dl)
    case default
      s = 0.0d0
    end select
  end function limited_slope

  pure function face_value(tuu, tu, td_, limiter) result(tf)
    ! MUSCL face value: upwind cell tu, the one behind it tuu, the downwind one td_.
    real(8), intent(in) :: tuu, tu, td_
    integer, intent(in) :: limiter
    real(8) :: tf
    tf = tu + 0.5d0 * limited_slope(tu - tuu, td_ - tu, limiter)
  end function face_value

  subroutine advdiff_rhs(t, u, v, s, dx, dy, kappa, tbot, ttop, limiter, rhs, nx, ny)
    ! rhs = -div(u T) + kappa lap T + s
    integer, intent(in) :: nx, ny, limiter
    real(8), intent(in) :: t(nx, ny), u(nx+1, ny), v(nx, ny+1), s(nx, ny)
    real(8), intent(in) :: dx, dy, kappa, tbot, ttop
    real(8), intent(out) :: rhs(nx, ny)
    real(8), allocatable :: tg(:, :), fx(:, :), fy(:, :)
    integer :: i, j
    real(8) :: tf, rdx2, rdy2

    allocate(tg(0:nx+1, 0:ny+1), fx(nx+1, ny), fy(nx, ny+1))
    call fill_ghosts(t, tbot, ttop, tg, nx, ny)
    rdx2 = kappa / (dx * dx)
    rdy2 = kappa / (dy * dy)

    ! Advective fluxes through vertical faces; the wall faces carry none (u = 0 there).
    !$omp parallel private(i, j, tf) if(nx * ny > 40000)
    !$omp do
    do j = 1, ny
      fx(1, j) = 0.0d0
      fx(nx+1, j) = 0.0d0
      do i = 2, nx
        if (u(i, j) > 0.0d0) then
          tf = face_value(tg(i-2, j), tg(i-1, j), tg(i, j), limiter)
        else
          tf = face_value(tg(i+1, j), tg(i, j), tg(i-1, j), limiter)
        end if
        fx(i, j) = u(i, j) * tf
      end do
    end do
    !$omp end do
    ! Through horizontal faces; the top and bottom walls carry none (v = 0 there).
    !$omp do
    do j = 1, ny + 1
      do i = 1, nx
        if (j == 1 .or. j == ny + 1) then
          fy(i, j) = 0.0d0
        else if (v(i, j) > 0.0d0) then
          tf = face_value(tg(i, j-2), tg(i, j-1), tg(i, j), limiter)
          fy(i, j) = v(i, j) * tf
        else
          tf = face_value(tg(i, j+1), tg(i, j), tg(i, j-1), limiter)
          fy(i, j) = v(i, j) * tf
        end if
      end do
    end do
    !$omp end do
    !$omp do
    do j = 1, ny
      do i = 1, nx
        rhs(i, j) = -(fx(i+1, j) - fx(i, j)) / dx - (fy(i, j+1) - fy(i, j)) / dy &
                    + rdx2 * (tg(i+1, j) - 2.0d0 * tg(i, j) + tg(i-1, j)) &
                    + rdy2 * (tg(i, j+1) - 2.0d0 * tg(i, j) + tg(i, j-1)) + s(i, j)
      end do
    end do
    !$omp end do
    !$omp end parallel
    deallocate(tg, fx, fy)
  end subroutine advdiff_rhs

  subroutine step_ssprk2(t, u, v, s, dx, dy, dt, kappa, tbot, ttop, limiter, nx, ny)
    ! Advance T in place by one time step dt with frozen velocities and source.
    integer, intent(in) :: nx, ny, limiter
    real(8), intent(inout) :: t(nx, ny)
    real(8), intent(in) :: u(nx+1, ny), v(nx, ny+1), s(nx, ny), dx, dy, dt, kappa, tbot, ttop
    real(8), allocatable :: t1(:, :), r(:, :)
    allocate(t1(nx, ny), r(nx, ny))
    call advdiff_rhs(t, u, v, s, dx, dy, kappa, tbot, ttop, limiter, r, nx, ny)
    t1 = t + dt * r
    call advdiff_rhs(t1, u, v, s, dx, dy, kappa, tbot, ttop, limiter, r, nx, ny)
    t = 0.5d0 * t + 0.5d0 * (t1 + dt * r)
    deallocate(t1, r)
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
