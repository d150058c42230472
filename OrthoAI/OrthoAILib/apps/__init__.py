"""Apps layer: the use cases (batch, demo, the command line, "run pipeline X on this node").

The only library code that imports both the core and the MRML bridge.
"""
