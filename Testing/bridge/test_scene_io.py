import numpy as np
import pytest
import slicer

from OrthoAILib.errors import InputError
from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.mrml.app import HeadlessSlicer
from OrthoAILib.mrml.markups import fiducials_from_points, points_from_fiducials
from OrthoAILib.mrml.scene_io import load_scene_bundle, save_scene_bundle
from OrthoAILib.mrml.segmentations import SegmentSpec, segmentation_from_labelmap
from OrthoAILib.mrml.tables import records_from_table, table_from_records
from OrthoAILib.mrml.volumes import array_from_volume, volume_from_array


def test_bundle_loads_back_intact(scene, slicer_app, tmp_path):
    geometry = ImageGeometry(spacing=(0.5, 0.5, 2.0), origin=(1, 2, 3))
    image = np.random.default_rng(1).integers(0, 3000, size=(4, 16, 12)).astype(np.int16)
    volume = volume_from_array(image, geometry, "ct", scene)
    labelmap = (image > 1500).astype(np.uint8)
    segmentation_from_labelmap(labelmap, geometry, [SegmentSpec(1, "bright", (1, 0, 0))], "seg", scene, volume)
    fiducials_from_points({"a": [1.5, 2.5, 3.5], "b": [-1, -2, -3]}, "points", scene)
    table_from_records([{"Measure": "x", "Value": 1.25}], "table", scene)
    path = save_scene_bundle(tmp_path / "case.mrb", scene)

    with HeadlessSlicer(cache_dir=tmp_path / "reader") as reader:
        load_scene_bundle(path, reader.scene)
        read_volume = reader.scene.GetFirstNodeByName("ct")
        read_image, read_geometry = array_from_volume(read_volume)
        assert np.array_equal(read_image, image)
        assert np.allclose(read_geometry.ijk_to_ras, geometry.ijk_to_ras)
        segmentation = reader.scene.GetFirstNodeByClass("vtkMRMLSegmentationNode")
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, "bright", read_volume)
        assert np.array_equal(mask, labelmap)
        points = points_from_fiducials(reader.scene.GetFirstNodeByName("points"))
        assert np.allclose(points["a"], [1.5, 2.5, 3.5]) and np.allclose(points["b"], [-1, -2, -3])
        assert records_from_table(reader.scene.GetFirstNodeByName("table")) == [{"Measure": "x", "Value": 1.25}]
    slicer_app.install_globals()


def test_bundle_needs_the_mrb_extension(scene, tmp_path):
    with pytest.raises(InputError, match=".mrb extension"):
        save_scene_bundle(tmp_path / "case.zip", scene)


def test_missing_bundle_is_reported(scene, tmp_path):
    with pytest.raises(InputError, match="No such scene bundle"):
        load_scene_bundle(tmp_path / "absent.mrb", scene)
