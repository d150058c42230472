"""Synthetic images with exact ground truth, deterministic from a seed.

They train the small models the project ships, drive the demo, and give the
tests inputs whose right answers are known.
"""
