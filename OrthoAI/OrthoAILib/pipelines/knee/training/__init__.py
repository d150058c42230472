"""Training of the knee cartilage networks (not shipped into Slicer)."""
