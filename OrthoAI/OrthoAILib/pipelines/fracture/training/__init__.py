"""Training of the CT fracture networks (not shipped into Slicer installs)."""
