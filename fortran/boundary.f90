! Ghost values for cell-centred fields on the MAC grid.
!
! Layout (Fortran view, 1-based): T(nx, ny) at cell centres, cell (i, j) centred at
! x = (i - 1/2) dx, y = (j - 1/2) dy. A ghost layer surrounds it: Tg(0:nx+1, 0:ny+1).
! Bottom (j = 0) and top (j = ny+1) walls hold Dirichlet values by linear extrapolation
! through the wall, so the wall value sits exactly half-way between the ghost and the first
! cell; the side walls (i = 0, nx+1) are insulating (mirror, zero normal gradient).
module boundary
  implicit none
contains

  subroutine fill_ghosts(t, tbot, ttop, tg, nx, ny)
    integer, intent(in) :: nx, ny
    real(8), intent(in) :: t(nx, ny), tbot, ttop
    real(8), intent(out) :: tg(0:nx+1, 0:ny+1)
    integer :: i, j
    do j = 1, ny
      tg(1:nx, j) = t(:, j)
      tg(0, j) = t(1, j)
      tg(nx+1, j) = t(nx, j)
    end do
    do i = 0, nx + 1
      tg(i, 0) = 2.0d0 * tbot - tg(i, 1)
      tg(i, ny+1) = 2.0d0 * ttop - tg(i, ny)
    end do
  end subroutine fill_ghosts

  subroutine impose_temperature_bounds(t, tmin, tmax, nx, ny)
    ! Clip T to [tmin, tmax] in place (the hybrid rollout clips to [0, 2]).
    integer, intent(in) :: nx, ny
    real(8), intent(inout) :: t(nx, ny)
    real(8), intent(in) :: tmin, tmax
    t = min(max(t, tmin), tmax)
  end subroutine impose_temperature_bounds

end module boundary
