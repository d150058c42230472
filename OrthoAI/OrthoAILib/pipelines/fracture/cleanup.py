"""After the networks: connected-component clean-up of the bone labels, the bone(s) each finding
lies on, and the labels brought back onto the input's own grid.

Clean-up defaults, and why:

* ``min_component_mm3 = 400``: the smallest whole bone piece the label set has in view is a rib's end
  or a transverse process cut by the field of view, over ~1 000 mm³; specks of a few voxels (3 mm
  grid: 27 mm³ each) are noise, calcified vessels or contrast. 400 mm³ is 15 voxels of 3 mm. A
  piece of one label that small inside a larger bone is not removed but takes the label around it
  (the network called a few voxels of a rib "vertebra": the bone is there, its name was wrong).
* ``max_gap_mm = 60``: the skeleton in a trunk CT is one structure with joint gaps under 10 mm; the
  widest gaps between one patient's bones are costal cartilage between the rib ends and the sternum
  (up to ~40 mm in the lower chest) and the arms lying beside the body (humerus to ribs, with muscle
  and fat between, up to ~60 mm). A bone island farther than that from the rest (the table, a
  calcified lymph node, a swallowed tablet, metal outside the body) is not part of this patient's
  skeleton. (At 45 mm a held-out generated case lost 38 ml of true bone the network had found in pieces.)
"""

from __future__ import annotations

import numpy as np

from ...geometry import ImageGeometry
from ...image import Image
from ..volume_grids import corners_ras, resample

MIN_COMPONENT_MM3 = 400.0
MAX_GAP_MM = 60.0
RIB_REACH_MM = 75.0  # a rib head lies 25-35 mm from its vertebral body's centre; the generated ribs begin ~67 mm out
MIN_RIB_EXTENT_MM = 60.0  # less than about three thoracic vertebrae with ribs: too little to place the levels


def clean_labels(labels: np.ndarray, spacing_mm: float, min_component_mm3: float = MIN_COMPONENT_MM3,
                 max_gap_mm: float = MAX_GAP_MM) -> tuple[np.ndarray, dict]:
    """Bone pieces under ``min_component_mm3`` removed, smaller pieces of a label inside a larger bone
    relabelled as what surrounds them, islands far from the skeleton removed; what was changed."""
    from scipy import ndimage

    out = labels.copy()
    voxel = spacing_mm ** 3
    min_voxels = max(1, int(np.ceil(min_component_mm3 / voxel)))
    structure = np.ones((3, 3, 3), bool)
    # Bone pieces too small to be a bone in view: removed.
    components, count = ndimage.label(out > 0, structure)
    sizes = np.bincount(components.ravel())
    specks = np.isin(components, np.flatnonzero(sizes < min_voxels)) & (components > 0)
    removed_small = int(specks.sum())
    out[specks] = 0
    # A small piece of one label inside a larger bone (a few voxels the network called otherwise)
    # takes the label that surrounds it most.
    relabelled = 0
    for value in np.unique(out):
        if value == 0:
            continue
        pieces, count = ndimage.label(out == value, structure)
        sizes = np.bincount(pieces.ravel())
        for index, box in enumerate(ndimage.find_objects(pieces), start=1):
            if box is None or sizes[index] >= min_voxels:
                continue
            box = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)  # one voxel round the piece
            piece = pieces[box] == index
            ring = ndimage.binary_dilation(piece, structure) & ~piece
            around = out[box][ring]
            around = around[(around > 0) & (around != value)]
            if around.size:
                out[box][piece] = np.bincount(around).argmax()
                relabelled += int(piece.sum())
    bone = out > 0
    components, count = ndimage.label(bone, structure)
    removed_far = 0
    if count > 1:
        sizes = np.bincount(components.ravel())
        sizes[0] = 0
        kept = np.zeros(count + 1, bool)
        kept[int(sizes.argmax())] = True
        while True:  # single linkage: islands within the gap of anything kept join it
            distance = ndimage.distance_transform_edt(~np.isin(components, np.flatnonzero(kept))) * spacing_mm
            near = np.zeros(count + 1, bool)
            reach = ndimage.minimum(distance, components, index=np.arange(count + 1))
            near[1:] = np.asarray(reach)[1:] <= max_gap_mm
            grown = kept | near
            grown[0] = False
            if (grown == kept).all():
                break
            kept = grown
        drop = bone & ~kept[components]
        removed_far = int(drop.sum())
        out[drop] = 0
    return out, {"small_components_mm3": round(removed_small * voxel, 1), "relabelled_pieces_mm3": round(relabelled * voxel, 1),
                 "far_islands_mm3": round(removed_far * voxel, 1)}


def sides_by_position(labels: np.ndarray, side_margin_mm: float = 10.0, spacing_mm: float = 3.0) -> tuple[np.ndarray, int]:
    """A left or right bone found on the other side of the body's midline takes its twin's label.

    On the canonical grid the columns run towards the patient's left, so the side of a piece of bone
    is where its centroid lies against the midline (the median column of the spine and sternum, or
    of all bone when none is found): a fact of the geometry, where the network can only guess from
    shape. Pieces within ``side_margin_mm`` of the midline keep their label. Returns the labels and
    how many pieces changed side."""
    from scipy import ndimage

    from .bones import BONE_BY_VALUE, MIDLINE_BONES, TWIN

    midline_mask = np.isin(labels, MIDLINE_BONES)
    reference = midline_mask if midline_mask.sum() > 50 else labels > 0
    if not reference.any():
        return labels, 0
    midline = float(np.median(np.nonzero(reference)[2]))
    margin = side_margin_mm / spacing_mm
    out = labels.copy()
    changed = 0
    for value, twin in TWIN.items():
        is_left = BONE_BY_VALUE[value].laterality == "left"
        components, count = ndimage.label(labels == value, np.ones((3, 3, 3), bool))
        if count == 0:
            continue
        centres = ndimage.center_of_mass(np.ones_like(components), components, range(1, count + 1))
        for index, centre in enumerate(centres, start=1):
            offset = centre[2] - midline  # > 0: towards the patient's left
            if (is_left and offset < -margin) or (not is_left and offset > margin):
                out[components == index] = twin
                changed += 1
    return out, changed


def spine_levels_by_ribs(labels: np.ndarray, spacing_mm: float = 3.0, reach_mm: float = RIB_REACH_MM,
                         min_extent_mm: float = MIN_RIB_EXTENT_MM) -> tuple[np.ndarray, int]:
    """Cervical, thoracic and lumbar vertebrae told apart by the ribs, not by the network's guess.

    Thoracic vertebrae are, by definition, those the ribs articulate with: on the canonical grid (slices
    run superior) the vertebra voxels at the heights where a rib lies within ``reach_mm`` of the spine's
    centre are thoracic, those above cervical, those below lumbar. The heights come from the longest run
    of such slices (gaps under 30 mm closed; no slice with more sacrum and hip bone than rib), so a few
    stray "rib" voxels elsewhere do not move it. Left as the network said where that run is shorter
    than ``min_extent_mm`` (no chest in view, or no ribs found). Returns the labels and how many voxels
    were renamed."""
    from .bones import BONE_BY_KEY

    spine_values = [BONE_BY_KEY[k].value for k in ("vertebrae_cervical", "vertebrae_thoracic", "vertebrae_lumbar")]
    cervical, thoracic, lumbar = spine_values
    spine = np.isin(labels, spine_values)
    ribs = np.isin(labels, [BONE_BY_KEY["rib_left"].value, BONE_BY_KEY["rib_right"].value])
    pelvis = np.isin(labels, [BONE_BY_KEY[k].value for k in ("sacrum", "hip_left", "hip_right")])
    # a slice with more pelvis than rib is the pelvis's: no rib head lies beside it
    thoracic_like = ribs.sum((1, 2)) > pelvis.sum((1, 2))
    reach = reach_mm / spacing_mm
    with_ribs = []
    for k in np.flatnonzero(spine.any((1, 2)) & thoracic_like):
        centre = np.median(np.argwhere(spine[k]), 0)
        if (np.hypot(*(np.argwhere(ribs[k]) - centre).T) <= reach).any():
            with_ribs.append(int(k))
    run = _longest_run(with_ribs, max_gap=int(30.0 / spacing_mm))
    if run is None or (run[1] - run[0] + 1) * spacing_mm < min_extent_mm:
        return labels, 0
    heights = np.arange(labels.shape[0])[:, None, None]
    levels = np.where(heights > run[1], cervical, np.where(heights < run[0], lumbar, thoracic))
    out = np.where(spine, levels, labels).astype(labels.dtype)
    return out, int((out != labels).sum())


def _longest_run(indices: list[int], max_gap: int) -> tuple[int, int] | None:
    """The longest stretch of sorted indices whose steps are at most ``max_gap``: (first, last)."""
    if not indices:
        return None
    runs, start = [], indices[0]
    for previous, current in zip(indices, indices[1:]):
        if current - previous > max_gap:
            runs.append((start, previous))
            start = current
    runs.append((start, indices[-1]))
    return max(runs, key=lambda r: r[1] - r[0])


def bones_under_box(labels: np.ndarray, geometry: ImageGeometry, low_ras, high_ras, margin_mm: float = 3.0) -> dict[int, int]:
    """Voxels of each bone label inside a RAS box (widened by ``margin_mm``: a box drawn round a
    cortical break may sit just off the bone's edge), most first."""
    corners = np.array([[x, y, z] for x in (low_ras[0], high_ras[0]) for y in (low_ras[1], high_ras[1])
                        for z in (low_ras[2], high_ras[2])])
    ijk = geometry.world_to_ijk(corners)
    pad = margin_mm / np.asarray(geometry.spacing)
    low = np.clip(np.floor(ijk.min(0) - pad).astype(int), 0, np.array(labels.shape[::-1]) - 1)
    high = np.clip(np.ceil(ijk.max(0) + pad).astype(int) + 1, 1, np.array(labels.shape[::-1]))
    region = labels[low[2]:high[2], low[1]:high[1], low[0]:high[0]]
    values, counts = np.unique(region[region > 0], return_counts=True)
    order = np.argsort(-counts)
    return {int(values[i]): int(counts[i]) for i in order}


def labels_to_input_grid(labels: np.ndarray, geometry: ImageGeometry, image: Image) -> np.ndarray:
    """Bone labels onto the input's grid: each label's mask sampled (trilinear) inside its own
    bounding box, the most present label kept where it covers at least half a voxel. Surfaces
    interpolated between the 3 mm voxels rather than 3 mm steps, a rib one voxel thick kept, at the
    cost of a resampling per bone's box only."""
    out = np.zeros(image.array.shape, dtype=np.uint8)
    best = np.zeros(image.array.shape, dtype=np.float32)
    shape_ijk = np.array(image.array.shape[::-1])
    for value in np.unique(labels):
        if value == 0:
            continue
        found = np.argwhere(labels == value)
        low3, high3 = np.maximum(found.min(0) - 2, 0), np.minimum(found.max(0) + 3, labels.shape)
        mask = (labels[tuple(slice(a, b) for a, b in zip(low3, high3))] == value).astype(np.float32)
        box_geometry = ImageGeometry(geometry.spacing, tuple(geometry.ijk_to_world(low3[::-1].astype(float))), geometry.directions)
        ijk = image.geometry.world_to_ijk(corners_ras(mask.shape, box_geometry))
        low = np.clip(np.floor(ijk.min(0)).astype(int), 0, shape_ijk)
        high = np.clip(np.ceil(ijk.max(0)).astype(int) + 1, 0, shape_ijk)
        if np.any(high <= low):
            continue
        target_shape = tuple(int(h - l) for l, h in zip(low[::-1], high[::-1]))
        target = ImageGeometry(image.geometry.spacing, tuple(image.geometry.ijk_to_world(low.astype(float))), image.geometry.directions)
        sampled = resample(mask, box_geometry, target_shape, target)
        region = tuple(slice(l, h) for l, h in zip(low[::-1], high[::-1]))
        better = (sampled > best[region]) & (sampled >= 0.5)
        best[region] = np.where(better, sampled, best[region])
        out[region][better] = value
    return out
