"""The progress hook of the time loop: a tqdm bar in model time, with step, Nu and Vrms."""
from __future__ import annotations


class RunProgress:
    """A bar from the resumed time to end_time, refreshed every 10 steps; does nothing
    when off (other MPI ranks, &output progress = .false.)."""

    def __init__(self, on: bool, t0: float, end_time: float, name: str,
                 position: int | None = None):
        self.end_time = end_time
        self.bar = None
        if on:
            from tqdm import tqdm
            self.bar = tqdm(total=end_time, initial=min(t0, end_time), unit="",
                            bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} "
                                       "[{elapsed}<{remaining}]{postfix}",
                            desc=f"run {name}", dynamic_ncols=True, position=position,
                            leave=position is None)

    def update(self, n: int, t: float, diag: dict | None) -> None:
        if self.bar is None or n % 10 or diag is None:
            return
        self.bar.n = min(t, self.end_time)
        self.bar.set_postfix_str(f"step={n} Nu={diag['Nu_top']:.3f} Vrms={diag['Vrms']:.3g}",
                                 refresh=False)
        self.bar.refresh()

    def close(self, t: float) -> None:
        if self.bar is not None:
            self.bar.n = min(t, self.end_time)
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
