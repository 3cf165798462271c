"""Training: the Trainer and its recipes (train.py), the train command's flags (options.py),
the losses (losses.py), the datasets over campaigns and packs (data.py, step_data.py,
pack.py) and the study's Eq. 4 fit (scaling.py)."""
