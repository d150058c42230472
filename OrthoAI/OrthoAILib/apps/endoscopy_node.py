"""The Endoscopy module's use cases: analyse the frame (or every frame) of a volume node, or a video file,
and write the results into the scene through the bridge (``mrml.endoscopy``).

The scene changes only once every frame was analysed: Cancel or an error leaves it as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..pipelines.endoscopy.pipeline import EndoscopyPipeline, frame_rgb
from ..runtime.progress import report


def analyse_volume(volume_node, pipeline: EndoscopyPipeline, *, progress=None, cancel=None):
    """One frame: ``(result, EndoscopyScene)``; several slices (a video loaded as a volume):
    ``(results, EndoscopyVideoScene)`` with sequences browsable frame by frame."""
    from ..mrml.endoscopy.scene import add_endoscopy_results, add_video_results, frame_count, frame_from_volume

    count = frame_count(volume_node)
    if count <= 1:
        image = frame_from_volume(volume_node)
        result = pipeline.run(image, progress=progress, cancel=cancel)
        return result, add_endoscopy_results(volume_node, result, frame_rgb(image))
    analysed = []
    for index in range(count):
        if cancel is not None:
            cancel.raise_if_cancelled("Endoscopy analysis")
        report(progress, index / count, f"Frame {index + 1} of {count}")
        image = frame_from_volume(volume_node, index)
        rgb = frame_rgb(image)
        analysed.append((pipeline.analyse(rgb, image.origin.name, image.geometry, frame_index=index), rgb))
    report(progress, 1.0, "Writing the sequences")
    return [r for r, _ in analysed], add_video_results(volume_node, analysed)


def analyse_video_file(path: str | Path, pipeline: EndoscopyPipeline, *, every: int = 1, max_frames: Optional[int] = None,
                       progress=None, cancel=None):
    """A video file, read frame by frame, into sequences: ``(results, EndoscopyVideoScene)``."""
    from ..io.endoscopy_frames import video_info
    from ..mrml.endoscopy.scene import add_video_results
    from .endoscopy import analyse_video

    info = video_info(path)
    total = -(-info.frames // every) if info.frames else None
    expected = min(v for v in (total, max_frames) if v) if (total or max_frames) else None
    analysed = []
    for result, rgb in analyse_video(path, pipeline, every, max_frames, cancel=cancel):
        analysed.append((result, rgb))
        report(progress, len(analysed) / expected if expected else 0.5, f"Frame {result.frame_index}")
    return [r for r, _ in analysed], add_video_results(None, analysed, Path(path).stem)
