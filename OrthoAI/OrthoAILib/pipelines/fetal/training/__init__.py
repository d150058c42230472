"""Training and benchmarks of the fetal head models (not shipped into Slicer installs)."""
