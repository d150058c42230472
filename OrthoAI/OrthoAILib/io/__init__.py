"""Reading and writing images, landmark files and reports (core: no MRML)."""
