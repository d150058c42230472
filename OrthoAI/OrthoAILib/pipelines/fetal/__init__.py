"""Fetal head ultrasound: head segmentation, ellipse biometry, head-shape class with a heatmap."""
