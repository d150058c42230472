"""Training and benchmark of the hip keypoint models (not shipped into Slicer installs)."""
