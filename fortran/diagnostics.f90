! Diagnostics on the MAC grid (layouts as in energy.f90). All integrals are area-weighted
! means over the box unless said otherwise. hy(ny) are the row heights (all equal on a
! uniform grid; the distance between centres j-1 and j is (hy(j-1) + hy(j)) / 2). The
! unweighted means (rms_velocity, buoyancy_work) are kept for uniform grids, whose results
! stay bit-identical; the *_w forms take the weights of stretched grids.
module diagnostics
  implicit none
contains

  subroutine nusselt(t, hy, tbot, ttop, nu_top, nu_bot, nx, ny)
    ! Nusselt numbers from the conductive wall flux exactly as the energy scheme uses it
    ! (half-cell distance to the wall). This is the conservative boundary flux: at steady
    ! state it equals the total heat flow through any horizontal line, so it converges at
    ! second order, unlike a one-sided gradient. Normalised by the temperature drop.
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: t(nx, ny), hy(ny), tbot, ttop
    real(8), intent(out) :: nu_top, nu_bot
    nu_top = sum(2.0d0 * (t(:, ny) - ttop) / hy(ny)) / nx / (tbot - ttop)
    nu_bot = sum(2.0d0 * (tbot - t(:, 1)) / hy(1)) / nx / (tbot - ttop)
  end subroutine nusselt

  subroutine rms_velocity(u, v, vrms, nx, ny)
    ! sqrt of the area mean of |u|^2, each face velocity standing for one cell area (wall
    ! faces carry zero normal velocity, so their half cells add nothing).
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: u(nx+1, ny), v(nx, ny+1)
    real(8), intent(out) :: vrms
    vrms = sqrt((sum(u * u) + sum(v * v)) / (nx * ny))
  end subroutine rms_velocity

  subroutine rms_velocity_w(u, v, hy, vrms, nx, ny)
    ! rms_velocity on rows of heights hy: u(i, j) stands for dx hy(j), v(i, j) for dx times
    ! the distance between the centres it separates (box height 1).
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: u(nx+1, ny), v(nx, ny+1), hy(ny)
    real(8), intent(out) :: vrms
    real(8) :: acc
    integer :: j
    acc = 0.0d0
    do j = 1, ny
      acc = acc + sum(u(:, j) ** 2) * hy(j)
    end do
    do j = 2, ny
      acc = acc + sum(v(:, j) ** 2) * 0.5d0 * (hy(j-1) + hy(j))
    end do
    vrms = sqrt(acc / nx)
  end subroutine rms_velocity_w

  subroutine surface_velocity(u, urms_top, umax_top, nx, ny)
    ! Horizontal velocity at the top wall, extrapolated from the top row with du/dy = 0
    ! (free slip), i.e. the top-row face values.
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: u(nx+1, ny)
    real(8), intent(out) :: urms_top, umax_top
    urms_top = sqrt(sum(u(:, ny) ** 2) / nx)
    umax_top = maxval(abs(u(:, ny)))
  end subroutine surface_velocity

  subroutine horizontal_profile(t, prof, nx, ny)
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: t(nx, ny)
    real(8), intent(out) :: prof(ny)
    integer :: j
    do j = 1, ny
      prof(j) = sum(t(:, j)) / nx
    end do
  end subroutine horizontal_profile

  subroutine divergence(u, v, dx, hy, div, nx, ny)
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: u(nx+1, ny), v(nx, ny+1), dx, hy(ny)
    real(8), intent(out) :: div(nx, ny)
    integer :: j
    do j = 1, ny
      div(:, j) = (u(2:nx+1, j) - u(1:nx, j)) / dx + (v(:, j+1) - v(:, j)) / hy(j)
    end do
  end subroutine divergence

  subroutine dissipation(u, v, eta_c, eta_n, dx, hy, phi, nx, ny)
    ! Viscous dissipation tau:grad u at cell centres: normal parts from the centre strain
    ! rates, the shear part averaged from the four corners (zero on free-slip walls). With
    ! cell-height weights, a corner's quarter shares add up to its own control height, so
    ! the area-weighted mean of phi is the discrete operator's dissipation.
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: u(nx+1, ny), v(nx, ny+1), eta_c(nx, ny), eta_n(nx+1, ny+1)
    real(8), intent(in) :: dx, hy(ny)
    real(8), intent(out) :: phi(nx, ny)
    real(8), allocatable :: sh(:, :)
    integer :: i, j
    real(8) :: exx, eyy, g
    allocate(sh(nx+1, ny+1))
    sh = 0.0d0
    do j = 2, ny
      do i = 2, nx
        g = (u(i, j) - u(i, j-1)) / (0.5d0 * (hy(j-1) + hy(j))) + (v(i, j) - v(i-1, j)) / dx
        sh(i, j) = eta_n(i, j) * g * g
      end do
    end do
    do j = 1, ny
      do i = 1, nx
        exx = (u(i+1, j) - u(i, j)) / dx
        eyy = (v(i, j+1) - v(i, j)) / hy(j)
        phi(i, j) = 2.0d0 * eta_c(i, j) * (exx * exx + eyy * eyy) &
                    + 0.25d0 * (sh(i, j) + sh(i+1, j) + sh(i, j+1) + sh(i+1, j+1))
      end do
    end do
    deallocate(sh)
  end subroutine dissipation

  subroutine buoyancy_work(t, v, work, nx, ny)
    ! Area mean of T v, evaluated on the horizontal faces where the Stokes operator applies
    ! the buoyancy force, so that Ra * work equals the mean dissipation of the discrete
    ! Stokes solution exactly (up to the solver tolerance).
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: t(nx, ny), v(nx, ny+1)
    real(8), intent(out) :: work
    work = sum(v(:, 2:ny) * 0.5d0 * (t(:, 1:ny-1) + t(:, 2:ny))) / (nx * ny)
  end subroutine buoyancy_work

  subroutine buoyancy_work_w(t, v, hy, work, nx, ny)
    ! buoyancy_work on rows of heights hy: each face weighted by its control height
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: t(nx, ny), v(nx, ny+1), hy(ny)
    real(8), intent(out) :: work
    integer :: j
    work = 0.0d0
    do j = 2, ny
      work = work + sum(v(:, j) * 0.5d0 * (t(:, j-1) + t(:, j))) * 0.5d0 * (hy(j-1) + hy(j))
    end do
    work = work / nx
  end subroutine buoyancy_work_w

end module diagnostics
