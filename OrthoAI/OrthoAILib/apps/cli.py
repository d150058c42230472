"""The ``orthoai`` command.

    orthoai demo [--out DIR]
    orthoai hip-measure POINTS.mrk.json [--cup-diameter MM] [--json]
    orthoai <pipeline> INPUT --out DIR [--workers N | --scheduler ADDRESS] [--resume] [pipeline options]
        pipelines: hip (AP pelvis radiographs), fetal (fetal head ultrasound stills), endoscopy (colonoscopy
        frames and videos), knee (knee MR cartilage), knee-biomarkers (knee cartilage labelmaps), fracture (CT fractures
        with bone labels), bone-phantom (the worked 3-D example)
    orthoai fetal INPUT --out DIR [--pixel-size MM | --pixel-size-csv CSV] [--ga-weeks W]
    orthoai knee MR --out DIR [--reference LABELMAP] [--baseline JSON]
    orthoai fracture CT --out DIR [--score-threshold S] [--no-scene]
    orthoai knee-biomarkers LABELMAP --out DIR [--labels femoral=1,tibial=2,3,...] [--reference L] [--baseline JSON]
    orthoai serve [--host H] [--port P] [--token T | --no-token] [--out DIR] [--send-to HOST:PORT:AET]
    orthoai dicom-listen --allow SENDER_AET --store DIR --server URL [--token T | --no-token]
    orthoai fetal-results --server URL [--token T | --no-token] [--follow] [--after ID] [--json]
    orthoai dicom-send FILE... --to HOST:PORT:AET [--aet AET]
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


def _fetal_job(args):
    from .fetal import FetalJob

    return FetalJob(pixel_size_mm=args.pixel_size, pixel_size_csv=str(args.pixel_size_csv) if args.pixel_size_csv else None,
                    ga_weeks=args.ga_weeks)


def _fetal_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pixel-size", type=float, metavar="MM",
                        help="pixel size in mm (PNG/JPEG carry none; overrides DICOM ultrasound regions)")
    parser.add_argument("--pixel-size-csv", type=Path, metavar="CSV",
                        help="CSV of file name and pixel size in mm (columns filename, pixel_size_mm; as HC18 ships)")
    parser.add_argument("--ga-weeks", type=float, metavar="W",
                        help="gestational age in weeks: HC z-score and centile (INTERGROWTH-21st), size flags")


def _endoscopy_job(args):
    from .endoscopy import EndoscopyJob

    return EndoscopyJob(every=args.every, max_frames=args.max_frames)


def _endoscopy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--every", type=int, default=1, metavar="N", help="videos: analyse every N-th frame (default 1)")
    parser.add_argument("--max-frames", type=int, metavar="N", help="videos: stop after N analysed frames")


def _knee_job(args):
    from .knee import KneeJob

    return KneeJob(reference=str(args.reference) if args.reference else None,
                   baseline=str(args.baseline) if args.baseline else None, write_maps=not args.no_maps, force_cpu=args.cpu)


def _knee_arguments(parser: argparse.ArgumentParser) -> None:
    _knee_measure_arguments(parser)
    parser.add_argument("--cpu", action="store_true", help="force the CPU even when CUDA is available")


def _knee_measure_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reference", type=Path, metavar="LABELMAP",
                        help="a reference labelmap on the same grid (1 femoral, 2 medial tibial, 3 lateral tibial, "
                             "4 patellar, or as --labels maps them): Dice per plate")
    parser.add_argument("--baseline", type=Path, metavar="JSON",
                        help="the <name>.biomarkers.json of an earlier time point of the same knee: change per plate and subregion")
    parser.add_argument("--no-maps", action="store_true", help="skip the thickness maps (.vtk surfaces)")


def _knee_biomarkers_job(args):
    from ..pipelines.knee.plates import parse_label_spec
    from .batch import UsageError
    from .knee import KneeBiomarkersJob

    try:
        labels = parse_label_spec(args.labels)
    except OrthoAIError as error:
        raise UsageError(str(error)) from None
    return KneeBiomarkersJob(labels=tuple(labels.items()), reference=str(args.reference) if args.reference else None,
                             baseline=str(args.baseline) if args.baseline else None, write_maps=not args.no_maps)


def _knee_biomarkers_arguments(parser: argparse.ArgumentParser) -> None:
    from ..pipelines.knee.plates import SPEC_EXAMPLE

    parser.add_argument("--labels", default=SPEC_EXAMPLE, metavar="PLATE=V[,V...],...",
                        help=f"which label values make each plate (default {SPEC_EXAMPLE}; several values may form "
                             "one plate, e.g. tibial=2,3; plates: femoral, tibial_medial, tibial_lateral, tibial, patellar)")
    _knee_measure_arguments(parser)


def _fracture_job(args):
    from .fracture import FractureJob

    return FractureJob(force_cpu=args.cpu, score_threshold=args.score_threshold, write_scene=not args.no_scene)


def _fracture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--score-threshold", type=float, default=None, metavar="S",
                        help="detector score a finding needs, 0-1 (default 0.30: about 2 false positives per "
                             "scan on the validation cases)")
    parser.add_argument("--no-scene", action="store_true", help="skip the .mrb scene bundle per case (faster)")
    parser.add_argument("--cpu", action="store_true", help="force the CPU even when CUDA is available")


def _bone_phantom_job(args):
    from .bone_phantom import BonePhantomJob

    return BonePhantomJob(force_cpu=args.cpu)


def _bone_phantom_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cpu", action="store_true", help="force the CPU even when CUDA is available")


# name -> (help, pipeline options, job from the parsed arguments)
BATCH_COMMANDS = {
    "hip": ("keypoints and measures from AP pelvis radiographs after hip arthroplasty",
            _hip_arguments, _hip_job),
    "fetal": ("fetal head ultrasound stills: head segmentation, HC/BPD/OFD/CI, head-shape class with a Grad-CAM heatmap",
              _fetal_arguments, _fetal_job),
    "endoscopy": ("colonoscopy frames and videos: depth estimate, depth-guided polyp segmentation fused onto the frame",
                  _endoscopy_arguments, _endoscopy_job),
    "knee": ("knee MR: two-stage cartilage segmentation (femoral, medial/lateral tibial, patellar) with thickness maps "
             "and biomarkers", _knee_arguments, _knee_job),
    "knee-biomarkers": ("cartilage biomarkers of a knee labelmap: volume, area, thickness map and statistics per plate "
                        "and femoral subregion, Dice against a reference, change from a baseline",
                        _knee_biomarkers_arguments, _knee_biomarkers_job),
    "fracture": ("CT: bone labels (18 bones), fracture boxes on bone with the bone's name, a class per fracture "
                 "(fresh, old, post-operative, suspected, other)", _fracture_arguments, _fracture_job),
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


def _server_token(args) -> str | None:
    """``--token``, else ``$ORTHOAI_SERVER_TOKEN``; None only with an explicit ``--no-token``."""
    import os

    from .batch import UsageError
    from .fetal_server import TOKEN_ENV

    if args.no_token:
        if args.token:
            raise UsageError("give --token or --no-token, not both")
        return None
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if token is None:
        raise UsageError(f"give a --token (or set {TOKEN_ENV}); --no-token serves without one, for local experiments only")
    return token


def _serve(args) -> int:
    import signal

    from .batch import UsageError
    from .fetal_server import make_server

    token = _server_token(args)
    try:
        server = make_server(args.host, args.port, token, max_upload_mb=args.max_upload_mb, max_queue=args.max_queue,
                             max_queue_mb=args.max_queue_mb,
                             keep=args.keep, out_dir=args.out, send_to=args.send_to, calling_aet=args.calling_aet)
    except ValueError as error:  # InputError: options that cannot be used
        raise UsageError(str(error)) from None

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"orthoai: serving fetal analysis on {server.url} ({'token required' if token else 'NO TOKEN'}); "
          "Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()  # serve_forever has returned: this stops the worker and closes the socket
    return 0


def _dicom_listen(args) -> int:
    import signal
    import threading

    from .batch import UsageError
    from .dicom_listener import make_listener

    token = _server_token(args)
    try:
        listener = make_listener(args.port, args.aet, args.allow, args.store, args.server, token, host=args.host,
                                 uid_salt=args.uid_salt)
    except ValueError as error:
        raise UsageError(str(error)) from None
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):  # a short wait keeps the main thread responsive to signals
            pass
    except KeyboardInterrupt:
        pass
    listener.shutdown(drain_timeout_s=5.0)
    return 0


def _fetal_results(args) -> int:
    from .fetal_client import FetalServerClient, summary_line

    client = FetalServerClient(args.server, _server_token(args))
    printed = 0
    if args.follow:
        try:
            for item in client.follow(after=args.after):
                print(json.dumps(item) if args.json else summary_line(item), flush=True)
        except KeyboardInterrupt:
            return 0
        return 0
    last = args.after
    while True:
        items = client.results_after(last, 0, limit=1000)
        for item in items:
            print(json.dumps(item) if args.json else summary_line(item))
            printed += 1
        if not items:
            break
        last = items[-1]["id"]
    print(f"{printed} result(s)", file=sys.stderr)
    return 0


def _dicom_send(args) -> int:
    from .batch import UsageError
    from .fetal_client import parse_destination, send_files

    try:
        host, port, aet = parse_destination(args.to)
    except ValueError as error:
        raise UsageError(str(error)) from None
    failed = 0
    for path, status in send_files(args.files, host, port, aet, calling_aet=args.aet):
        failed += status != 0
        print(f"{path}: {'stored' if status == 0 else 'refused'} (status 0x{status:04X})")
    return 1 if failed else 0


def _add_fetal_flow_commands(commands) -> None:
    """``serve``, ``dicom-listen``, ``fetal-results``, ``dicom-send``: the scanner-to-server flow."""
    serve = commands.add_parser("serve", help="fetal-head inference server (HTTP; token required)",
                                description="Fetal-head inference server: POST /v1/analyse, GET /v1/results "
                                            "(long-poll feed), GET /v1/health. Binds 127.0.0.1 unless --host says otherwise.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for the network)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    serve.add_argument("--token", help="the token clients must send (default: $ORTHOAI_SERVER_TOKEN)")
    serve.add_argument("--no-token", action="store_true", help="serve without a token (local experiments only)")
    serve.add_argument("--max-upload-mb", type=float, default=50, help="largest still accepted (default 50 MB)")
    serve.add_argument("--max-queue", type=int, default=1000, help="stills waiting at most; more get 503 (default 1000)")
    serve.add_argument("--max-queue-mb", type=float, default=1024,
                       help="memory for stills being received or waiting; more get 503 (default 1024 MB)")
    serve.add_argument("--keep", type=int, default=1000, help="results kept in memory for the feed (default 1000)")
    serve.add_argument("--out", type=Path, help="also write every result (JSON and PNGs) to this folder")
    serve.add_argument("--send-to", metavar="HOST:PORT:AET", help="send a DICOM still's heatmap (SC) and report (SR) there")
    serve.add_argument("--calling-aet", default="ORTHOAI", help="our AE title when sending (default ORTHOAI)")
    serve.set_defaults(run=_serve)

    listen = commands.add_parser("dicom-listen", help="DICOM listener: store ultrasound stills de-identified, forward them",
                                 description="DICOM Storage SCP for ultrasound stills: de-identifies and stores each "
                                             "still, forwards it to the inference server, writes the result beside it.")
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for scanners)")
    listen.add_argument("--port", type=int, default=11112, help="port (default 11112)")
    listen.add_argument("--aet", default="ORTHOAI", help="our AE title (default ORTHOAI)")
    listen.add_argument("--allow", action="append", required=True, metavar="SENDER_AET",
                        help="AE title allowed to send (repeat for several)")
    listen.add_argument("--store", type=Path, required=True, metavar="DIR", help="folder for the de-identified stills")
    listen.add_argument("--server", required=True, metavar="URL", help="inference server, e.g. http://127.0.0.1:8765")
    listen.add_argument("--token", help="the server's token (default: $ORTHOAI_SERVER_TOKEN)")
    listen.add_argument("--no-token", action="store_true", help="the server runs without a token")
    listen.add_argument("--uid-salt", help="secret that de-identified UIDs are derived with (keep it to keep them "
                                           "stable across restarts; default: new at each start)")
    listen.set_defaults(run=_dicom_listen)

    results = commands.add_parser("fetal-results", help="print the inference server's results (one line per still)")
    results.add_argument("--server", required=True, metavar="URL", help="inference server, e.g. http://127.0.0.1:8765")
    results.add_argument("--token", help="the server's token (default: $ORTHOAI_SERVER_TOKEN)")
    results.add_argument("--no-token", action="store_true", help="the server runs without a token")
    results.add_argument("--follow", action="store_true", help="keep printing results as they arrive (Ctrl-C stops)")
    results.add_argument("--after", type=int, default=0, metavar="ID", help="only results after this id")
    results.add_argument("--json", action="store_true", help="one JSON object per line instead of a summary")
    results.set_defaults(run=_fetal_results)

    send = commands.add_parser("dicom-send", help="send DICOM files by C-STORE (a storescu for trying the listener)")
    send.add_argument("files", nargs="+", type=Path, metavar="FILE", help="DICOM files to send")
    send.add_argument("--to", required=True, metavar="HOST:PORT:AET", help="destination, e.g. 127.0.0.1:11112:ORTHOAI")
    send.add_argument("--aet", default="ORTHOAI-SEND", help="our AE title (default ORTHOAI-SEND)")
    send.set_defaults(run=_dicom_send)


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

    _add_fetal_flow_commands(commands)
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
