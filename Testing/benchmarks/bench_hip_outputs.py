"""Seconds per 12-megapixel film through the hip batch (``orthoai hip``), analysis only and with all its
outputs (landmarks, measures, scene bundle, picture), and what the console printed, as JSON.

Generated AP pelvis films at 0.1 mm pixels (about 12 megapixels, 16-bit) are written as DICOM; a fresh
process runs the batch twice over them, without scenes (``--no-scene``) and with them (the default).
A film's time is what it adds to the batch: the wall-clock seconds between two films reported done
(the runner reads and analyses the next film in a second thread while it writes one film's files),
and the process's CPU seconds over the same span (less disturbed by other processes on the machine;
the analysis runs on two threads, so CPU seconds exceed wall-clock ones). Each film's own time, its
analysis and its writing added up while they overlap with other films', is in ``runs``. Medians are over the measured films
after the first (the first case of a run also starts the off-screen view).
The outputs' own time (``apps.hip.write_case_files``: landmarks, measures, scene bundle, picture) is
also taken apart, its CPU seconds as the writing thread's own (the renderer's helper threads, if any,
not counted). Lines the process wrote to stderr are counted (VTK warnings appear there).

    .venv/bin/python Testing/benchmarks/bench_hip_outputs.py [FILMS | FOLDER]

A FOLDER of films (DICOM) is used as it is, so that two versions of the code can be compared on the
same films; by default FILMS (6) are generated.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

GIVEN = Path(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].isdigit() else None
FILMS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 6
# Films the shipped models measure (a refused film writes no landmarks): the operated side alternates.
SEEDS = [(1_000_901 + index, "right" if index % 2 == 0 else "left") for index in range(FILMS)]

CHILD = r"""
import json, statistics, sys, time
from pathlib import Path
import OrthoAILib.apps.hip as hip
from OrthoAILib.apps.batch import run_batch
from OrthoAILib.apps.hip import HipJob

films, out = Path(sys.argv[1]), Path(sys.argv[2])
report, writing = {}, {}
write_case_files = hip.write_case_files

def timed(name, *args, **kwargs):  # the outputs alone: this thread's CPU (the next film's analysis runs meanwhile)
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        return write_case_files(name, *args, **kwargs)
    finally:
        writing[name] = (time.perf_counter() - wall, time.thread_time() - cpu)

hip.write_case_files = timed
for write_scene in (False, True):
    folder = out / ("with_outputs" if write_scene else "analysis_only")
    writing.clear()
    cpu, wall = [time.process_time()], [time.perf_counter()]
    def log(line):  # called once per case, when it is done: the time between two is what a film costs a batch
        if line.startswith("["):
            cpu.append(time.process_time())
            wall.append(time.perf_counter())
    summary = run_batch(HipJob(write_scene=write_scene), films, folder, log=log, keep_results=True)
    cpu_seconds = [b - a for a, b in zip(cpu, cpu[1:])]
    wall_seconds = [b - a for a, b in zip(wall, wall[1:])]
    ok = [index for index, o in enumerate(summary.outcomes) if index > 0 and o.status == "ok"]
    sizes = {suffix: [p.stat().st_size for p in folder.glob(f"*{suffix}")] for suffix in (".mrb", ".png")}
    median = lambda values: round(statistics.median(values), 3) if values else None
    report["with_outputs" if write_scene else "analysis_only"] = {
        "statuses": [o.status for o in summary.outcomes],
        "failures": sorted({o.message for o in summary.outcomes if o.failed}),
        "films_in_the_medians": len(ok),
        "seconds_per_film_median": median([wall_seconds[i] for i in ok]),
        "case_own_seconds_median": median([summary.outcomes[i].seconds for i in ok]),
        "cpu_seconds_per_film_median": median([cpu_seconds[i] for i in ok]),
        "pipeline_seconds_median": median([summary.outcomes[i].result.timings_s.get("total", 0.0) for i in ok]),
        "writing_outputs_seconds_median": median([writing[summary.outcomes[i].name][0] for i in ok]),
        "writing_outputs_cpu_seconds_median": median([writing[summary.outcomes[i].name][1] for i in ok]),
        "seconds_per_film": [round(w, 3) for w in wall_seconds],
        "case_own_seconds": [round(o.seconds, 3) for o in summary.outcomes],
        **({"bundle_mb_median": round(statistics.median(sizes[".mrb"]) / 2 ** 20, 1),
            "picture_kb_median": round(statistics.median(sizes[".png"]) / 2 ** 10)} if sizes[".mrb"] else {}),
    }
print(json.dumps(report))
"""


def write_films(folder: Path) -> Path:
    from OrthoAILib.io.radiograph import write_radiograph_dicom
    from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph

    folder.mkdir(parents=True, exist_ok=True)
    for index, (seed, side) in enumerate(SEEDS):
        film = make_pelvis_radiograph(seed, operated=side, spacing_mm=0.1)
        write_radiograph_dicom(folder / f"film{index:02d}.dcm", film.image, 0.1, bits_stored=film.bit_depth)
    return folder


def main() -> dict:
    import pydicom

    with tempfile.TemporaryDirectory() as name:
        films = GIVEN or write_films(Path(name) / "films")
        headers = [pydicom.dcmread(path, stop_before_pixels=True) for path in sorted(films.glob("*.dcm"))]
        child = subprocess.run([sys.executable, "-c", CHILD, str(films), str(Path(name) / "out")],
                               capture_output=True, text=True, check=True)
        runs = json.loads(child.stdout.strip().splitlines()[-1])
    stderr = [line for line in child.stderr.splitlines() if line.strip()]
    analysis, outputs = runs["analysis_only"], runs["with_outputs"]
    megapixels = sorted(int(h.Rows) * int(h.Columns) / 1e6 for h in headers)
    result = {
        "benchmark": "hip_outputs_per_film", "films": len(headers), "pixel_spacing_mm": 0.1,
        "megapixels_median": round(megapixels[len(megapixels) // 2], 1),
        "seconds_per_film_analysis_only": analysis["seconds_per_film_median"],
        "seconds_per_film_with_all_outputs": outputs["seconds_per_film_median"],
        "cpu_seconds_per_film_analysis_only": analysis["cpu_seconds_per_film_median"],
        "cpu_seconds_per_film_with_all_outputs": outputs["cpu_seconds_per_film_median"],
        "seconds_per_film_writing_the_outputs": outputs["writing_outputs_seconds_median"],
        "cpu_seconds_per_film_writing_the_outputs": outputs["writing_outputs_cpu_seconds_median"],
        "stderr_lines": len(stderr), "vtk_warnings": sum("WARN" in line or "vtk" in line for line in stderr),
        "runs": runs,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
