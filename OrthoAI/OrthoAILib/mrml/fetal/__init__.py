"""The fetal head ultrasound results in the scene: the still read from a node, the head ellipse as an
editable closed curve whose measures follow it, the head segmentation, the heatmap overlay, the
measure table, and results received from the inference server."""
