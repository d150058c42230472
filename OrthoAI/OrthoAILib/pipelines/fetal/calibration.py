"""Constants measured on the HC18 training subjects (``training/outline_offset.py``).

``OUTLINE_OFFSET_PX``: HC18's filled masks were drawn from the annotated ellipse's outline, so
their edge lies outside the ellipse whose circumference is the reference HC. Fitting ellipses to
the masks' edges of the 644 training stills and comparing perimeters with the reference column:
the mask's ellipse is longer by 8.80 px (SD 0.39 px) of perimeter, a radial offset of
8.80 / 2π = 1.40 px. Training shrinks mask ellipses by it to recover the experts' ellipses.

``EDGE_OFFSET_PX``: the segmenter's edge (its logit iso-line 0, found on a grid 3.4× coarser than
the still) lies inside the annotated ellipse, not outside as the masks do. The pipeline's
ellipses on the 630 training stills it measures are shorter than the reference HC by a mean radial offset of
this many pixels, so the pipeline grows its ellipse by it (`outline_offset --pipeline`; measure it
again after every retraining).
"""

OUTLINE_OFFSET_PX = 1.40
EDGE_OFFSET_PX = 1.15  # 630 training stills not refused: perimeter short by 7.21 px (SD 26.3 px)
