"""Constants measured on the HC18 training subjects (``training/outline_offset.py``).

``OUTLINE_OFFSET_PX``: HC18's filled masks were drawn from the annotated ellipse's outline, so
their edge lies outside the ellipse whose circumference is the reference HC. Fitting ellipses to
the masks' edges of the 644 training stills and comparing perimeters with the reference column:
the mask's ellipse is longer by 8.80 px (SD 0.39 px) of perimeter, a radial offset of
8.80 / 2π = 1.40 px. Training shrinks mask ellipses by it to recover the experts' ellipses.

``EDGE_OFFSET_PX``: where the segmenter's edge (its logit iso-line 0, found on a grid 3.4× coarser
than the still) lies relative to the annotated ellipse is a property of each trained model, not of
the masks: the pipeline grows its ellipse by this many pixels (negative: shrinks it) so that, on
the training stills it measures, its perimeter matches the reference HC on average
(``outline_offset --pipeline``; measure it again after every retraining).
"""

OUTLINE_OFFSET_PX = 1.40
EDGE_OFFSET_PX = -0.09  # segmenter 1.0.0 on the 629 training stills it measures: perimeter 0.58 px long (SD 22.1 px)
