"""OrthoAI shared library.

Three layers (see the repository's DESIGN notes):

* the core (everything here except ``mrml``) works on numpy arrays with their
  geometry and never imports ``slicer``, ``qt`` or ``vtk``;
* ``OrthoAILib.mrml`` is the only package that touches MRML nodes;
* the Slicer module files (``OrthoAI.py``, ``KneeCartilage.py``, ``HipTHA.py``)
  hold widgets only.

torch and MONAI are imported lazily, where a model is used, so that importing
this package stays cheap and works where torch is not installed yet.
"""

__version__ = "0.1.0"
