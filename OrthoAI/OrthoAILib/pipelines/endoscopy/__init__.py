"""Endoscopy lesions: depth-guided polyp segmentation on colonoscopy frames, fused onto the frame."""
