"""Training of the tiny phantom bone model (not shipped into Slicer installs)."""
