"""MRML bridge: the only code that touches MRML nodes.

It runs unchanged in the Slicer application and, through the ``slicer-core``
wheel, in plain Python (tests, the ``orthoai`` command). Functions take an
optional ``scene``; by default they use ``slicer.mrmlScene``.
"""
