"""Grad-CAM (Selvaraju et al., ICCV 2017) of the head-shape class, brought back to the still and
fused onto it as a pseudo-coloured overlay."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

OVERLAY_ALPHA = 0.45
SALIENCY_FLOOR = 0.15  # weaker saliency is left uncoloured, so the crop's square does not tint the still


def grad_cam(classifier, crop: np.ndarray, class_index: int | None = None, device=None) -> tuple[np.ndarray, np.ndarray]:
    """``(class probabilities, saliency on the crop grid in [0, 1])`` for the chosen class (default: the
    most probable). The classifier returns ``(logits, feature maps)``; the gradient of the class logit
    with respect to the feature maps weights them (Grad-CAM)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(crop, np.float32))[None, None]
    if device is not None:
        x = x.to(device)
    with torch.enable_grad():
        logits, features = classifier(x)
        probabilities = torch.softmax(logits, dim=1)[0].detach().cpu().numpy()
        chosen = int(np.argmax(probabilities)) if class_index is None else class_index
        (gradient,) = torch.autograd.grad(logits[0, chosen], features)
    weights = gradient[0].mean(dim=(1, 2))
    cam = torch.relu((weights[:, None, None] * features[0]).sum(dim=0)).detach().cpu().numpy()
    if cam.max() > 0:
        cam = cam / cam.max()
    zoom = crop.shape[0] / cam.shape[0]
    # Feature cell centres sit at (i + 0.5)·zoom - 0.5 on the crop grid.
    cam = ndimage.affine_transform(cam, [1 / zoom, 1 / zoom], offset=[0.5 - 0.5 / zoom] * 2, output_shape=crop.shape,
                                   order=1, mode="nearest")
    return probabilities, cam.astype(np.float32)


def to_image(cam: np.ndarray, crop_to_image: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """The crop-grid saliency on the still's pixel grid (zero outside the crop)."""
    image_to_crop = np.linalg.inv(crop_to_image)
    return ndimage.affine_transform(cam, image_to_crop[:2, :2], offset=image_to_crop[:2, 2], output_shape=image_shape,
                                    order=1, mode="constant", cval=0.0).astype(np.float32)


def colour_map(values: np.ndarray) -> np.ndarray:
    """A blue-cyan-yellow-red ramp for values in [0, 1] (``uint8`` RGB)."""
    v = np.clip(values, 0, 1)[..., None]
    stops = np.array([0.0, 0.35, 0.65, 1.0])
    colours = np.array([[0, 0, 160], [0, 200, 255], [255, 230, 0], [230, 0, 0]], float)
    rgb = np.stack([np.interp(v[..., 0], stops, colours[:, channel]) for channel in range(3)], axis=-1)
    return rgb.astype(np.uint8)


def fuse(plane: np.ndarray, saliency: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """The still in grey with the saliency blended in where it is present (``uint8`` RGB)."""
    low, high = float(plane.min()), float(plane.max())
    grey = ((plane - low) / max(high - low, 1e-6) * 255).astype(np.float32)
    base = np.repeat(grey[..., None], 3, axis=-1)
    weight = (alpha * np.clip((saliency - SALIENCY_FLOOR) / (1 - SALIENCY_FLOOR), 0, 1))[..., None]
    return (base * (1 - weight) + colour_map(saliency).astype(np.float32) * weight).round().astype(np.uint8)
