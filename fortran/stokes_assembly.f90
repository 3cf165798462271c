! Variable-viscosity Stokes operator on the MAC (staggered) grid, assembled as CSR arrays.
!
!   -div( eta (grad u + grad u^T) ) + grad p = f        (momentum, f = (fx, fy))
!   -div u = 0                                        (continuity)
!
! Unknowns, 0-based global numbering, in three blocks (the order of the NumPy ravel of the
! (ny, nx+1), (ny+1, nx) and (ny, nx) arrays, so a solution vector reshapes without copies):
!   u(i, j), i = 1..nx+1, j = 1..ny   -> (j-1)(nx+1) + i-1
!   v(i, j), i = 1..nx,   j = 1..ny+1 -> nu + (j-1) nx + i-1
!   p(i, j), i = 1..nx,   j = 1..ny   -> nu + nv + (j-1) nx + i-1
! Normal stresses use eta at cell centres (eta_c), shear stresses eta at cell corners
! (eta_n; corner (i, j) at x = (i-1) dx, y = (j-1) dy), as in Gerya's scheme and PETSc's
! DMStag Stokes tutorial. Free slip: the shear stress vanishes on every wall corner, so wall
! corners never enter; wall-normal velocities are zero and appear as identity rows whose
! columns are dropped elsewhere, which keeps the operator symmetric.
! The pressure is scaled by kc (p = kc p') and continuity multiplied by kc, so that both
! blocks have entries of similar size (Gerya's "Kcont"); the matrix stays symmetric.
! Rows may be stretched in y: row j has height hy(j), v faces sit on the cell faces and
! centres at their midpoints, so the distance between centres j-1 and j (the height of the
! control volume of v(i, j)) is dc = (hy(j-1) + hy(j)) / 2. Each equation is first written
! per unit area with its local spacings, then multiplied by its control-volume height over
! dyref (hy(j) for u and continuity, dc for v): the area-weighted form is the symmetric
! one, and on a uniform grid (hy = dyref) every weight is exactly 1, so the operator is
! bit for bit the uniform one. The caller scales the right-hand side by the same weights.
! pin = 1 fixes p(1,1) = 0 symmetrically (for direct solvers; the caller removes the mean).
! pblock = 1 puts -kc^2/eta_c on the pressure diagonal: the Schur-complement
! approximation used as preconditioning matrix by the fieldsplit solvers.
module stokes_assembly
  implicit none
  integer, parameter :: MAXROW = 16
contains

  subroutine add_entry(col, val, n, cols, vals)
    integer, intent(in) :: col
    real(8), intent(in) :: val
    integer, intent(inout) :: n
    integer, intent(inout) :: cols(MAXROW)
    real(8), intent(inout) :: vals(MAXROW)
    integer :: k
    do k = 1, n
      if (cols(k) == col) then
        vals(k) = vals(k) + val
        return
      end if
    end do
    n = n + 1
    cols(n) = col
    vals(n) = val
  end subroutine add_entry

  subroutine sort_row(n, cols, vals)
    integer, intent(in) :: n
    integer, intent(inout) :: cols(MAXROW)
    real(8), intent(inout) :: vals(MAXROW)
    integer :: a, b, c
    real(8) :: w
    do a = 2, n
      c = cols(a); w = vals(a); b = a - 1
      do while (b >= 1)
        if (cols(b) <= c) exit
        cols(b+1) = cols(b); vals(b+1) = vals(b); b = b - 1
      end do
      cols(b+1) = c; vals(b+1) = w
    end do
  end subroutine sort_row

  subroutine row_entries(row, nx, ny, dx, hy, dyref, eta_c, eta_n, kc, bscale, pin, &
                         pblock, n, cols, vals)
    ! Sorted, merged column indices and values of one global row.
    integer, intent(in) :: row, nx, ny, pin, pblock
    real(8), intent(in) :: dx, hy(ny), dyref, eta_c(nx, ny), eta_n(nx+1, ny+1), kc, bscale
    integer, intent(out) :: n, cols(MAXROW)
    real(8), intent(out) :: vals(MAXROW)
    integer :: nu, nv, i, j, r
    real(8) :: e, rdx2, rdxy, dc, rw

    nu = (nx + 1) * ny
    nv = nx * (ny + 1)
    rdx2 = 1.0d0 / (dx * dx)
    rw = 1.0d0
    n = 0
    cols = 0
    vals = 0.0d0

    if (row < nu) then                                  ! x-momentum at u(i, j)
      i = mod(row, nx + 1) + 1
      j = row / (nx + 1) + 1
      if (i == 1 .or. i == nx + 1) then
        call add_entry(row, bscale, n, cols, vals)
      else
        rw = hy(j) / dyref
        rdxy = 1.0d0 / (dx * hy(j))
        e = 2.0d0 * eta_c(i, j) * rdx2                  ! d/dx of sxx, right cell
        call add_entry(iu(i, j), e, n, cols, vals)
        if (i + 1 <= nx) call add_entry(iu(i+1, j), -e, n, cols, vals)
        e = 2.0d0 * eta_c(i-1, j) * rdx2                ! left cell
        call add_entry(iu(i, j), e, n, cols, vals)
        if (i - 1 >= 2) call add_entry(iu(i-1, j), -e, n, cols, vals)
        if (j + 1 <= ny) then                           ! shear stress, upper corner
          e = eta_n(i, j+1)
          dc = 0.5d0 * (hy(j) + hy(j+1))
          call add_entry(iu(i, j+1), -e / (dc * hy(j)), n, cols, vals)
          call add_entry(iu(i, j), e / (dc * hy(j)), n, cols, vals)
          call add_entry(iv(i, j+1), -e * rdxy, n, cols, vals)
          call add_entry(iv(i-1, j+1), e * rdxy, n, cols, vals)
        end if
        if (j >= 2) then                                ! lower corner
          e = eta_n(i, j)
          dc = 0.5d0 * (hy(j-1) + hy(j))
          call add_entry(iu(i, j), e / (dc * hy(j)), n, cols, vals)
          call add_entry(iu(i, j-1), -e / (dc * hy(j)), n, cols, vals)
          call add_entry(iv(i, j), e * rdxy, n, cols, vals)
          call add_entry(iv(i-1, j), -e * rdxy, n, cols, vals)
        end if
        if (.not. pinned(i, j)) call add_entry(ip(i, j), kc / dx, n, cols, vals)
        if (.not. pinned(i-1, j)) call add_entry(ip(i-1, j), -kc / dx, n, cols, vals)
      end if

    else if (row < nu + nv) then                        ! y-momentum at v(i, j)
      r = row - nu
      i = mod(r, nx) + 1
      j = r / nx + 1
      if (j == 1 .or. j == ny + 1) then
        call add_entry(row, bscale, n, cols, vals)
      else
        dc = 0.5d0 * (hy(j-1) + hy(j))
        rw = dc / dyref
        rdxy = 1.0d0 / (dx * dc)
        e = 2.0d0 * eta_c(i, j) / (hy(j) * dc)          ! d/dy of syy, upper cell
        call add_entry(iv(i, j), e, n, cols, vals)
        if (j + 1 <= ny) call add_entry(iv(i, j+1), -e, n, cols, vals)
        e = 2.0d0 * eta_c(i, j-1) / (hy(j-1) * dc)      ! lower cell
        call add_entry(iv(i, j), e, n, cols, vals)
        if (j - 1 >= 2) call add_entry(iv(i, j-1), -e, n, cols, vals)
        if (i + 1 <= nx) then                           ! shear stress, right corner
          e = eta_n(i+1, j)
          call add_entry(iu(i+1, j), -e * rdxy, n, cols, vals)
          call add_entry(iu(i+1, j-1), e * rdxy, n, cols, vals)
          call add_entry(iv(i+1, j), -e * rdx2, n, cols, vals)
          call add_entry(iv(i, j), e * rdx2, n, cols, vals)
        end if
        if (i >= 2) then                                ! left corner
          e = eta_n(i, j)
          call add_entry(iu(i, j), e * rdxy, n, cols, vals)
          call add_entry(iu(i, j-1), -e * rdxy, n, cols, vals)
          call add_entry(iv(i, j), e * rdx2, n, cols, vals)
          call add_entry(iv(i-1, j), -e * rdx2, n, cols, vals)
        end if
        if (.not. pinned(i, j)) call add_entry(ip(i, j), kc / dc, n, cols, vals)
        if (.not. pinned(i, j-1)) call add_entry(ip(i, j-1), -kc / dc, n, cols, vals)
      end if

    else                                                ! continuity in cell (i, j)
      r = row - nu - nv
      i = mod(r, nx) + 1
      j = r / nx + 1
      if (pinned(i, j)) then
        call add_entry(row, kc, n, cols, vals)
      else
        rw = hy(j) / dyref
        if (i >= 2) call add_entry(iu(i, j), kc / dx, n, cols, vals)
        if (i + 1 <= nx) call add_entry(iu(i+1, j), -kc / dx, n, cols, vals)
        if (j >= 2) call add_entry(iv(i, j), kc / hy(j), n, cols, vals)
        if (j + 1 <= ny) call add_entry(iv(i, j+1), -kc / hy(j), n, cols, vals)
        if (pblock == 1) then
          call add_entry(row, -kc * kc / eta_c(i, j), n, cols, vals)
        end if
      end if
    end if
    vals(1:n) = rw * vals(1:n)
    call sort_row(n, cols, vals)

  contains
    integer function iu(a, b)
      integer, intent(in) :: a, b
      iu = (b - 1) * (nx + 1) + a - 1
    end function iu
    integer function iv(a, b)
      integer, intent(in) :: a, b
      iv = nu + (b - 1) * nx + a - 1
    end function iv
    integer function ip(a, b)
      integer, intent(in) :: a, b
      ip = nu + nv + (b - 1) * nx + a - 1
    end function ip
    logical function pinned(a, b)
      integer, intent(in) :: a, b
      pinned = (pin == 1 .and. a == 1 .and. b == 1)
    end function pinned
  end subroutine row_entries

  subroutine stokes_nnz(nx, ny, pin, pblock, nnz)
    ! Number of stored entries of the operator (its structure depends only on the grid).
    integer, intent(in) :: nx, ny, pin, pblock
    integer, intent(out) :: nnz
    real(8), allocatable :: ec(:, :), en(:, :), hy(:)
    integer :: row, n, cols(MAXROW)
    real(8) :: vals(MAXROW)
    allocate(ec(nx, ny), en(nx+1, ny+1), hy(ny))
    hy = 1.0d0
    ec = 1.0d0
    en = 1.0d0
    nnz = 0
    do row = 0, (nx + 1) * ny + nx * (ny + 1) + nx * ny - 1
      call row_entries(row, nx, ny, 1.0d0, hy, 1.0d0, ec, en, 1.0d0, 1.0d0, pin, pblock, &
                       n, cols, vals)
      nnz = nnz + n
    end do
    deallocate(ec, en, hy)
  end subroutine stokes_nnz

  subroutine stokes_csr(nx, ny, dx, hy, dyref, eta_c, eta_n, kc, bscale, pin, pblock, &
                        nrows, nnz, indptr, indices, vals)
    ! Fill CSR arrays (0-based, columns sorted within each row) of the operator; hy: row
    ! heights, dyref: the height the row weights are relative to (1/ny).
    integer, intent(in) :: nx, ny, pin, pblock, nrows, nnz
    real(8), intent(in) :: dx, hy(ny), dyref, eta_c(nx, ny), eta_n(nx+1, ny+1), kc, bscale
    integer, intent(out) :: indptr(nrows + 1), indices(nnz)
    real(8), intent(out) :: vals(nnz)
    integer :: row, n, k, cols(MAXROW)
    real(8) :: rv(MAXROW)
    k = 0
    indptr(1) = 0
    do row = 0, nrows - 1
      call row_entries(row, nx, ny, dx, hy, dyref, eta_c, eta_n, kc, bscale, pin, pblock, &
                       n, cols, rv)
      indices(k+1:k+n) = cols(1:n)
      vals(k+1:k+n) = rv(1:n)
      k = k + n
      indptr(row + 2) = k
    end do
  end subroutine stokes_csr

end module stokes_assembly
