"""The endoscopy lesion pipeline's nodes: frames from volumes, and results written into the scene."""
