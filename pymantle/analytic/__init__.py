"""Analytic solutions of the Stokes equations used as benchmarks (e.g. SolCx)."""
