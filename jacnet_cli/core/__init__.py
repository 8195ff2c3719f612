"""The maths: structures, the networks they own, paths, anchors, solvers, the model,
units, evaluation, the inverse, guarantees, targets. Imports torch, torchdiffeq and numpy
only, and nothing from the other layers of jacnet."""
