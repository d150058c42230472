"""Constants measured on the HC18 training subjects (``training/``), used by the pipeline.

``OUTLINE_OFFSET_PX``: HC18's filled masks were drawn from the annotated ellipse's outline, so
their edge lies outside the ellipse whose circumference is the reference HC. Fitting ellipses to
the masks' edges of the 644 training stills and comparing perimeters with the reference column:
the mask's ellipse is longer by 8.80 px (SD 0.39 px) of perimeter, a radial offset of
8.80 / 2π = 1.40 px. The segmenter learns the masks, so the pipeline shrinks its ellipse by this
much to report the annotators' ellipse (measured by ``training/outline_offset.py``).
"""

OUTLINE_OFFSET_PX = 1.40
