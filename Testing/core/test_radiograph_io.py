"""Reading radiographs: DICOM variants, other formats, and the errors users meet."""

import tracemalloc

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from OrthoAILib.errors import InputError
from OrthoAILib.io.radiograph import read_radiograph, write_radiograph_dicom
from OrthoAILib.io.radiograph_policy import FILM_SIDE_MM, film_size_warning

IDENTIFIERS = {"PatientName": "DOE^JANE", "PatientID": "MRN-0042", "PatientBirthDate": "19500101",
               "InstitutionName": "General Hospital", "AccessionNumber": "ACC123"}


@pytest.fixture
def film():
    rng = np.random.default_rng(0)
    image = (rng.random((120, 160)) * 4000).astype(np.uint16)
    image[10:20, 5:15] = 4095  # something asymmetric
    return image


def test_monochrome2_pixel_spacing(tmp_path, film):
    path = write_radiograph_dicom(tmp_path / "a.dcm", film, 0.15, bits_stored=12)
    radiograph = read_radiograph(path)
    assert np.array_equal(radiograph.plane, film.astype(np.float32))
    assert radiograph.pixel_spacing_rc == (0.15, 0.15) and radiograph.origin.spacing_source == "PixelSpacing"
    assert radiograph.origin.spacing_calibrated and radiograph.origin.name == "a.dcm"


def test_real_world_shape_16_bit_monochrome1_imager_spacing(tmp_path, film):
    path = write_radiograph_dicom(tmp_path / "b.dcm", film, 0.2, photometric="MONOCHROME1", bits_stored=16,
                                  spacing_tag="ImagerPixelSpacing", magnification=1.15, extra=IDENTIFIERS)
    stored = pydicom.dcmread(path)
    assert stored.PhotometricInterpretation == "MONOCHROME1" and "PixelSpacing" not in stored
    radiograph = read_radiograph(path)
    assert np.allclose(radiograph.plane, film)  # inverted back: dense is bright
    assert radiograph.pixel_spacing_rc == pytest.approx((0.2 / 1.15, 0.2 / 1.15))
    assert "EstimatedRadiographicMagnificationFactor" in radiograph.origin.spacing_source
    assert not any(value in repr(radiograph) for value in IDENTIFIERS.values())


def test_imager_spacing_without_factor_is_flagged_uncorrected(tmp_path, film):
    path = write_radiograph_dicom(tmp_path / "c.dcm", film, 0.2, spacing_tag="ImagerPixelSpacing")
    radiograph = read_radiograph(path)
    assert radiograph.pixel_spacing_rc == (0.2, 0.2) and not radiograph.origin.spacing_calibrated


def test_patient_orientation_towards_the_right_is_mirrored(tmp_path, film):
    path = write_radiograph_dicom(tmp_path / "d.dcm", film, 0.15, extra={"PatientOrientation": ["R", "F"]})
    radiograph = read_radiograph(path)
    assert radiograph.origin.orientation.startswith("mirrored") and np.array_equal(radiograph.plane, film[:, ::-1].astype(np.float32))


def test_user_spacing_wins_and_is_needed_for_png(tmp_path, film):
    path = tmp_path / "film.png"
    sitk.WriteImage(sitk.GetImageFromArray((film // 16).astype(np.uint8)), str(path))
    with pytest.raises(InputError, match="PNG files carry no pixel spacing; give it in mm"):
        read_radiograph(path)
    radiograph = read_radiograph(path, spacing_mm=0.3)
    assert radiograph.pixel_spacing_rc == (0.3, 0.3) and radiograph.plane.shape == film.shape


def test_nrrd_spacing_from_header(tmp_path, film):
    image = sitk.GetImageFromArray(film)
    image.SetSpacing((0.12, 0.14))
    sitk.WriteImage(image, str(tmp_path / "film.nrrd"))
    radiograph = read_radiograph(tmp_path / "film.nrrd")
    assert radiograph.pixel_spacing_rc == pytest.approx((0.14, 0.12))  # (row, column)


@pytest.mark.parametrize("case, message", [
    ("multiframe", "multi-frame DICOM"),
    ("colour", "a colour image .* convert it to greyscale \\(ImageMagick: magick in.png -colorspace Gray out.png\\)"),
    ("no-spacing", "no PixelSpacing or ImagerPixelSpacing; give the pixel spacing"),
    ("not-dicom", "has a DICOM marker but no readable header: it is damaged or cut short"),
    ("colour-png", "a colour image \\(its colour channels differ by up to .* convert it to greyscale"),
    ("unknown", "unsupported file type"),
])
def test_bad_files_say_what_to_do(tmp_path, film, case, message):
    path = tmp_path / "bad.dcm"
    if case == "multiframe":
        write_radiograph_dicom(path, film, 0.1, extra={"NumberOfFrames": 2})
    elif case == "colour":
        write_colour_dicom(path, np.stack([film // 16, film // 16, film // 32], axis=-1).astype(np.uint8))
    elif case == "no-spacing":
        write_radiograph_dicom(path, film, 0.1)
        dataset = pydicom.dcmread(path)
        del dataset.PixelSpacing
        dataset.save_as(path)
    elif case == "not-dicom":
        path.write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    elif case == "colour-png":
        path = tmp_path / "colour.png"
        grey = (film // 16).astype(np.uint8)
        sitk.WriteImage(sitk.Compose([sitk.GetImageFromArray(c) for c in (grey, grey, 255 - grey)]), str(path))
    elif case == "unknown":
        path = tmp_path / "film.tiff.gz"
        path.write_bytes(b"x")
    with pytest.raises(InputError, match=message):
        read_radiograph(path, spacing_mm=0.2 if case == "colour-png" else None)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="No such image file"):
        read_radiograph(tmp_path / "absent.dcm")


def test_8_bit_cr_film(tmp_path, film):
    eight_bit = (film // 16).astype(np.uint8)
    path = write_radiograph_dicom(tmp_path / "cr.dcm", eight_bit, 0.3, bits_stored=8, extra={"Modality": "CR"})
    assert pydicom.dcmread(path).BitsAllocated == 8
    radiograph = read_radiograph(path)
    assert np.array_equal(radiograph.plane, eight_bit.astype(np.float32)) and radiograph.pixel_spacing_rc == (0.3, 0.3)


def test_itk_image_whose_columns_run_to_the_right_is_mirrored(tmp_path, film):
    image = sitk.GetImageFromArray(film)
    image.SetDirection((-1.0, 0.0, 0.0, 1.0))  # LPS: first axis towards the patient's right
    sitk.WriteImage(image, str(tmp_path / "flipped.nrrd"))
    radiograph = read_radiograph(tmp_path / "flipped.nrrd")
    assert radiograph.origin.orientation.startswith("mirrored") and np.array_equal(radiograph.plane, film[:, ::-1].astype(np.float32))


def write_colour_dicom(path, rgb, spacing_mm=0.15):
    """An 8-bit RGB DICOM film (interleaved channels), as some exports write greyscale films."""
    path = write_radiograph_dicom(path, rgb[..., 0], spacing_mm, bits_stored=8)
    dataset = pydicom.dcmread(path)
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation, dataset.PlanarConfiguration = 3, "RGB", 0
    dataset.PixelData = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    dataset.save_as(path)
    return path


def _broken_dicom(tmp_path, film, case):
    good = write_radiograph_dicom(tmp_path / "good.dcm", film, 0.15)
    path, data = tmp_path / "film.dcm", good.read_bytes()
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("Exported study list\nfilm 1 of 1\n", encoding="utf-8")
    elif case == "cut at 200 bytes":
        path.write_bytes(data[:200])
    elif case == "cut in the pixel data":
        path.write_bytes(data[:-5000])
    elif case in ("a report", "image header, no pixels"):
        dataset = pydicom.dcmread(good)
        del dataset.PixelData
        if case == "a report":
            for keyword in ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                            "SamplesPerPixel", "PhotometricInterpretation"):
                delattr(dataset, keyword)
            dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = pydicom.uid.BasicTextSRStorage
        dataset.save_as(path)
    elif case in ("compressed, no decoder", "compressed, damaged"):
        from pydicom.encaps import encapsulate

        dataset = pydicom.dcmread(good)
        dataset.file_meta.TransferSyntaxUID = (pydicom.uid.JPEGLosslessSV1 if case == "compressed, no decoder"
                                               else pydicom.uid.RLELossless)
        dataset.PixelData = encapsulate([b"\xff\xd8 not really compressed \xff\xd9 "])
        dataset["PixelData"].VR = "OB"
        dataset.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("case, message", [
    ("empty", "film.dcm is empty \\(0 bytes\\): the copy or export that made it failed; copy or export it again"),
    ("text", "film.dcm is a text file, not an image: give the film itself"),
    ("cut at 200 bytes", "film.dcm is cut short \\(200 bytes, inside its DICOM header\\): copy or export it again"),
    ("cut in the pixel data", "the file ends 5000 bytes before the end of its pixel data .*copy or export it again"),
    ("a report", "the DICOM file has no image \\(no pixel data\\): it is a Basic Text SR Storage; export the radiograph"),
    ("image header, no pixels", "its header describes a 160 x 120-pixel image but the file holds no pixel data"),
    ("compressed, no decoder", "compressed \\(JPEG Lossless.*\\) and no decoder for it is installed: pip install "
                               "pylibjpeg .*or export the film uncompressed \\(DCMTK: dcmdjpeg"),
    ("compressed, damaged", "the pixel data cannot be decoded .*the file may be damaged: copy or export it again"),
])
def test_broken_dicom_files_get_advice_that_fits_them(tmp_path, film, case, message):
    path = _broken_dicom(tmp_path, film, case)
    if case == "compressed, no decoder":
        from pydicom.pixels import get_decoder

        if get_decoder(pydicom.uid.JPEGLosslessSV1).is_available:
            pytest.skip("a JPEG Lossless decoder is installed here")
    with pytest.raises(InputError, match=message) as caught:
        read_radiograph(path)
    text = str(caught.value)
    assert "force=True" not in text and "\n" not in text
    assert ("decoder" in text) == (case == "compressed, no decoder")  # only when a decoder would really help


def test_rle_compressed_film_is_read(tmp_path, film):
    path = write_radiograph_dicom(tmp_path / "rle.dcm", film, 0.15)
    dataset = pydicom.dcmread(path)
    dataset.compress(pydicom.uid.RLELossless)
    dataset.save_as(path)
    assert np.array_equal(read_radiograph(path).plane, film.astype(np.float32))


@pytest.mark.parametrize("kind", ["png rgb", "png rgba", "jpeg rgb", "dicom rgb"])
def test_grey_stored_as_colour_is_read_as_grey(tmp_path, film, kind):
    grey = (film // 16).astype(np.uint8)
    if kind == "dicom rgb":
        path = write_colour_dicom(tmp_path / "film.dcm", np.stack([grey] * 3, axis=-1))
    else:
        channels = [grey] * 3 + ([np.full_like(grey, 255)] if kind == "png rgba" else [])
        path = tmp_path / ("film.jpg" if kind == "jpeg rgb" else "film.png")
        sitk.WriteImage(sitk.Compose([sitk.GetImageFromArray(c) for c in channels]), str(path))
    radiograph = read_radiograph(path, spacing_mm=None if kind == "dicom rgb" else 0.15)
    assert radiograph.plane.shape == grey.shape
    if kind == "jpeg rgb":  # lossy: near the grey film
        assert np.abs(radiograph.plane - grey).mean() < 4
    else:
        assert np.array_equal(radiograph.plane, grey.astype(np.float32))


def test_transparent_png_is_refused_with_how_to_flatten_it(tmp_path, film):
    grey = (film // 16).astype(np.uint8)
    alpha = np.full_like(grey, 255)
    alpha[:10] = 0
    sitk.WriteImage(sitk.Compose([sitk.GetImageFromArray(c) for c in (grey, grey, grey, alpha)]), str(tmp_path / "a.png"))
    with pytest.raises(InputError, match="transparent parts .*magick in.png -alpha off -colorspace Gray out.png"):
        read_radiograph(tmp_path / "a.png", spacing_mm=0.15)


@pytest.mark.parametrize("value, held", [(np.nan, "NaN values \\(3 pixels\\)"), (np.inf, "infinite values \\(3 pixels\\)")])
def test_non_finite_pixels_are_refused(tmp_path, film, value, held):
    pixels = film.astype(np.float32)
    pixels[5, 5:8] = value
    sitk.WriteImage(sitk.GetImageFromArray(pixels), str(tmp_path / "film.nii.gz"))
    with pytest.raises(InputError, match=f"film.nii.gz: the image holds {held}, which cannot be measured; replace them"):
        read_radiograph(tmp_path / "film.nii.gz")


def _peak_bytes_while(action) -> int:
    tracemalloc.start()
    try:
        action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_wrong_spacing_is_refused_before_the_pixels_are_read(tmp_path):
    pixels = np.full((1500, 1200), 1000, np.uint16)  # 3.6 MB of pixels, never read
    path = write_radiograph_dicom(tmp_path / "film.dcm", pixels, 0.14)

    def read(spacing):
        with pytest.raises(InputError) as caught:
            read_radiograph(path, spacing_mm=spacing)
        return str(caught.value)

    messages = []
    peak = _peak_bytes_while(lambda: messages.append(read(1.4)))
    assert peak < 1_000_000, peak
    assert messages[0] == ("film.dcm: with a pixel spacing of 1.4 mm (given by the user) this 1200 x 1500-pixel film "
                           "would be 1.7 x 2.1 m; an AP pelvis film is 150-600 mm a side. The spacing is probably wrong: "
                           "give it in mm per pixel (--spacing, or the module's Pixel spacing; about 0.29 for a 430 mm film).")
    assert read_radiograph(path, spacing_mm=0.14).plane.shape == (1500, 1200)

    header = write_radiograph_dicom(tmp_path / "header.dcm", pixels, 14)  # the file's own spacing is wrong
    with pytest.raises(InputError, match="14 mm \\(from PixelSpacing\\) .*spacing is probably wrong"):
        read_radiograph(header)


def test_a_header_claiming_a_huge_image_is_refused_before_allocating(tmp_path, film):
    path = write_radiograph_dicom(tmp_path / "film.dcm", film, 0.15)
    dataset = pydicom.dcmread(path)
    dataset.Rows, dataset.Columns = 40000, 30000  # 1.2 gigapixels claimed, 38 kB present
    dataset.save_as(path)
    with pytest.raises(InputError, match="30000 x 40000 pixels \\(1200 megapixels\\) is too large for one radiograph"):
        read_radiograph(path)


@pytest.mark.parametrize("suffix", [".png", ".nrrd"])
def test_other_formats_are_checked_from_their_header(tmp_path, film, suffix):
    image = sitk.GetImageFromArray((film // 16).astype(np.uint8))
    if suffix == ".nrrd":
        image.SetSpacing((14.0, 14.0))
    sitk.WriteImage(image, str(tmp_path / f"film{suffix}"))
    with pytest.raises(InputError, match="spacing is probably wrong"):
        read_radiograph(tmp_path / f"film{suffix}", spacing_mm=14.0 if suffix == ".png" else None)


def test_soft_film_size_rule():
    assert FILM_SIDE_MM == (150.0, 600.0)
    assert film_size_warning((2500, 3000), (0.14, 0.14)) is None  # 420 x 350 mm
    assert "is the pixel spacing right?" in film_size_warning((2500, 3000), (0.3, 0.3))  # 900 mm wide
    assert "is the pixel spacing right?" in film_size_warning((2500, 3000), (0.05, 0.05))  # 150 x 125 mm


def test_films_from_volume_nodes_follow_the_same_rules():
    """The bridge hands a volume node's film to ``radiograph_image``: one policy for every way in."""
    from OrthoAILib.io.radiograph_policy import SpacingChoice, radiograph_image

    shown_at_1_mm = SpacingChoice((1.0, 1.0), "volume spacing", True)  # Slicer's fallback without spacing tags
    with pytest.raises(InputError, match="\\(from volume spacing\\) this 2500 x 3000-pixel film would be 2.5 x 3 m"):
        radiograph_image(np.zeros((3000, 2500), np.float32), shown_at_1_mm, "node")
    pixels = np.zeros((100, 100), np.float32)
    pixels[0, 0] = np.nan
    with pytest.raises(InputError, match="node: the image holds NaN values \\(1 pixel\\)"):
        radiograph_image(pixels, SpacingChoice((2.0, 2.0), "volume spacing", True), "node")
