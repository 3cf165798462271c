"""Machine-learning side: datasets over campaign output, velocity scaling (Eq. 4)."""
