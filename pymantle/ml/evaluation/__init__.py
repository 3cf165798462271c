"""Evaluation of trained networks on their own: snapshot accuracy (accuracy.py), the study's
ablations (ablation.py) and the rollouts of the whole-step U-net baselines (unet_rollout.py).
Rollouts of the hybrid solver against the reference are pymantle.evaluate's."""
