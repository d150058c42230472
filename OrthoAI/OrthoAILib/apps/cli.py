"""The ``orthoai`` command.

    orthoai demo [--out DIR]
    orthoai hip-measure POINTS.mrk.json [--cup-diameter MM] [--json]
    orthoai <pipeline> INPUT --out DIR [--workers N | --scheduler ADDRESS] [--resume] [pipeline options]
        pipelines: hip (AP pelvis radiographs), bone-phantom (the worked 3-D example)
    orthoai hip-benchmark [--cases N] [--update-registry]
    orthoai models list | verify [ID] | check | import ID FILE | cache-dir | clear-cache

Every pipeline's batch has the same options and rules (``apps.batch``). Errors
print one line naming the problem: a failed case or bad input exits with
status 1, wrong usage (options, an unusable ``--out``) with status 2. Input
files are only read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import __version__
from ..errors import OrthoAIError


def _hip_measure(args) -> int:
    from ..pipelines.hip.measures import MEASURE_SPECS, compute_hip_measures
    from ..io.markups_json import read_markups_points

    points = read_markups_points(args.points)
    measures = compute_hip_measures(points, args.cup_diameter)
    if args.json:
        print(json.dumps(measures.to_json_dict()))
    else:
        calibration = (f"lengths calibrated to a {args.cup_diameter:g} mm cup" if measures.calibrated
                       else "lengths uncalibrated: give --cup-diameter to correct radiographic magnification")
        print(f"Hip measures from {args.points} ({calibration})")
        flags = measures.flags()
        for spec in MEASURE_SPECS:
            print(f"  {spec.label:<36} {measures.value(spec.key):8.2f} {spec.unit:<4} "
                  f"{flags[spec.key]:<12} normal: {spec.normal_range_text}")
    for warning in measures.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _hip_job(args):
    from .hip import HipJob

    return HipJob(cup_diameter_mm=args.cup_diameter, spacing_mm=args.spacing, side=args.side,
                  write_scene=not args.no_scene)


def _hip_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cup-diameter", type=float, metavar="MM", help="true cup diameter, to calibrate lengths")
    parser.add_argument("--spacing", type=float, metavar="MM", help="pixel spacing (needed for PNG/JPEG; overrides headers)")
    parser.add_argument("--side", choices=["auto", "right", "left", "both"], default="auto",
                        help="operated side (default: found automatically; both sides when bilateral)")
    parser.add_argument("--no-scene", action="store_true", help="skip the .mrb and .png per film (faster)")


def _bone_phantom_job(args):
    from .bone_phantom import BonePhantomJob

    return BonePhantomJob(force_cpu=args.cpu)


def _bone_phantom_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cpu", action="store_true", help="force the CPU even when CUDA is available")


# name -> (help, pipeline options, job from the parsed arguments)
BATCH_COMMANDS = {
    "hip": ("keypoints and measures from AP pelvis radiographs after hip arthroplasty",
            _hip_arguments, _hip_job),
    "bone-phantom": ("the worked 3-D example: tiny bone segmentation of CT volumes (a model trained on phantoms; "
                     "it checks the runtime and is not meant for patients' CT)",
                     _bone_phantom_arguments, _bone_phantom_job),
}


def _batch(args) -> int:
    from ..errors import InputError
    from .batch import UsageError, batch_options, run_batch

    job = args.make_job(args)
    try:
        job.validate()
    except InputError as error:
        raise UsageError(str(error)) from None
    summary = run_batch(job, **batch_options(args))
    print(f"{job.pipeline}: {summary.ok - summary.refused} case(s) done, {summary.refused} refused (nothing measured), "
          f"{summary.failed} failed, {summary.resumed} already complete (--resume), {summary.seconds:.1f} s; "
          f"table: {summary.csv_path}")
    return summary.exit_code


def _hip_benchmark(args) -> int:
    from ..pipelines.hip.training.benchmark import run_benchmark, update_registry

    if args.stability:
        from ..pipelines.hip.training.stability import run_stability
        from .hip import shared_pipeline

        print(json.dumps(run_stability(shared_pipeline(), args.stability), indent=2))
        return 0
    result = run_benchmark(args.cases, log=lambda line: print(line, file=sys.stderr))
    print(json.dumps(result, indent=2))
    if args.update_registry:
        update_registry(result, args.registry)
    return 0


def _demo(args) -> int:
    from .demo import run_hip_demo

    report = run_hip_demo(args.out, seed=args.seed, calibrate=not args.no_calibration)
    print(json.dumps({"measures": report["measures"], "files": report["files"]}, indent=2))
    return 0


def _models(args) -> int:
    from ..runtime.registry import ModelRegistry
    from ..runtime.store import ModelStore

    store = ModelStore(ModelRegistry.load(args.registry) if args.registry else None)
    if args.action == "list":
        for entry in store.registry.entries():
            status = store.status(entry.id)
            print(f"{entry.id}  {entry.version}  {entry.task}  {status.state}  {status.path or ''}")
    elif args.action == "verify":
        ids = [args.id] if args.id else store.registry.ids()
        for model_id in ids:
            print(f"{model_id}: verified {store.locate(model_id, download=False)}")
    elif args.action == "import":
        if not args.id or not args.file:
            raise OrthoAIError("usage: orthoai models import ID FILE")
        print(f"Imported {args.file} as {args.id}: {store.import_file(args.id, args.file)}")
    elif args.action == "check":
        from ..pipelines.bone_phantom.pipeline import run_runtime_check

        print(json.dumps(run_runtime_check(store, force_cpu=args.cpu).summary()))
    elif args.action == "cache-dir":
        print(store.cache_dir)
    elif args.action == "clear-cache":
        print(f"Freed {store.clear_cache()} bytes from {store.cache_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orthoai", description="OrthoAI imaging pipelines outside Slicer.")
    parser.add_argument("--version", action="version", version=f"orthoai {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="hip measures on a synthetic AP pelvis: scene bundle, picture, report")
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default: out/demo)")
    demo.add_argument("--seed", type=int, default=0, help="which synthetic radiograph (default: 0)")
    demo.add_argument("--no-calibration", action="store_true", help="leave lengths uncalibrated")
    demo.set_defaults(run=_demo)

    hip = commands.add_parser("hip-measure", help="hip arthroplasty measures from a Slicer markups file")
    hip.add_argument("points", type=Path, help="markups JSON (.mrk.json, LPS or RAS) with the nine named landmarks")
    hip.add_argument("--cup-diameter", type=float, metavar="MM", help="true cup diameter, to calibrate lengths")
    hip.add_argument("--json", action="store_true", help="print one JSON object: the measures, flags, calibrated")
    hip.set_defaults(run=_hip_measure)

    from .batch import add_batch_arguments

    for name, (help_text, add_arguments, make_job) in BATCH_COMMANDS.items():
        batch = commands.add_parser(name, help=help_text, description=help_text)
        add_batch_arguments(batch)
        add_arguments(batch)
        batch.set_defaults(run=_batch, make_job=make_job)

    bench = commands.add_parser("hip-benchmark", help="held-out accuracy and speed of the hip keypoint pipeline (JSON)")
    bench.add_argument("--cases", type=int, default=200, help="number of held-out generated films (default 200)")
    bench.add_argument("--update-registry", action="store_true", help="store the figures in the models' registry entries")
    bench.add_argument("--stability", type=int, metavar="N",
                       help="instead: N held-out films turned by ±10° and with a spacing changed in its 15th digit")
    bench.add_argument("--registry", type=Path, help="registry to update (default: the shipped Models.json)")
    bench.set_defaults(run=_hip_benchmark)

    models = commands.add_parser("models", help="the model registry and cache")
    models.add_argument("action", choices=["list", "verify", "check", "import", "cache-dir", "clear-cache"],
                        help="check: run the shipped test model on a phantom and report its Dice")
    models.add_argument("id", nargs="?", help="model id (verify, import)")
    models.add_argument("file", nargs="?", type=Path, help="model file to import")
    models.add_argument("--registry", type=Path, help="a Models.json of your own (default: the shipped one)")
    models.add_argument("--cpu", action="store_true", help="force the CPU even when CUDA is available")
    models.set_defaults(run=_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .batch import UsageError

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as error:
        print(f"orthoai: error: {error}", file=sys.stderr)
        return 2
    except OrthoAIError as error:
        print(f"orthoai: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
