"""Helpers shared by the three Slicer module files (layer 3: needs the Slicer application).

Kept apart from ``OrthoAILib`` so that the library never depends on the
application, Qt or the scripted-module base classes.
"""
