"""Training of the endoscopy depth and polyp networks (not shipped into Slicer installs)."""
