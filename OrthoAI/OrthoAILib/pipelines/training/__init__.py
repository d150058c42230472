"""What the pipelines' training scripts share (not shipped into Slicer installs)."""
