"""Active learning of the distilled route: the engine's POD explores, its teacher corrects it.

The distilled labels (:mod:`screening.engine.distilled`) are small cells of the labelling pool. A POD fitted to them
can still meet states in long MD that no cell shows: the distilled Ca–H fit heated dense H2 at 1473 K from 1,500 to
21,000 K within 40 fs, at H atoms with two or three H within 0.72–0.85 Å, an energy sink the 8-atom H2 cells never
probed. The field's remedy is active learning: run the potential, find the frames where it is unreliable, label
them, refit. Here the label comes from the teacher (the system's fine-tuned CHGNet, cheap on 100–300 atoms), and
the disagreement of student and teacher picks the frames (a two-member committee whose reference member is the
teacher itself):

1. fit POD to the distilled labels plus every active frame so far (fixed settings: those cross-validated on the
   distilled labels);
2. run each :class:`Probe` (NPT MD with that POD: dense H2, the precursor/H2 interface, bulk hydrides, at the
   engine's temperatures; a new seed every round);
3. label the sampled frames with the teacher; a frame is *off* when POD's force RMSE against the teacher exceeds
   ``force_tol`` or its energy differs by more than ``energy_tol`` per atom; frames after a run heated past twice its
   target temperature are dropped (off-distribution, not states the engine would visit);
4. the worst off frames of each probe (at most ``per_probe``) join ``distilled_active.extxyz`` with their
   provenance (round, probe, MD step, the POD that produced them, the gap); the round is logged in
   ``distilled_active.json``.

The loop stops when a round finds every probe running to its end with no off frame, or after ``rounds`` rounds.
Every round is written before the next starts: an interrupted run resumes at the next round. The frames carry the
teacher's labels (a fine-tuned universal potential, not DFT) and say so.

``python -m screening.engine.active_learning --metal Ca --rounds 6`` (``make engine-active METAL=Ca``), then
``make engine-distill METAL=Ca SKIP_LABELS=1`` re-selects the POD settings on the extended labels and refits.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from screening.engine.distilled import ACTIVE_FILE, ACTIVE_LOG, active_frames
from screening.engine.probes import DEFAULT_PROBES, Probe, explore
from screening.errors import CandidateError

__all__ = ["ACTIVE_FILE", "ACTIVE_LOG", "DEFAULT_PROBES", "Probe", "active_frames", "examined", "explore",
           "pick_off_frames", "repair_active", "run_active_learning", "run_round", "student_teacher_gap"]
#: thresholds of an *off* frame: POD's force RMSE against the teacher (the distilled fit reaches 0.31 eV/Å on its
#: training cells) and its energy error per atom against the teacher
FORCE_TOL_EV_PER_A = 0.5
ENERGY_TOL_EV_PER_ATOM = 0.030
#: frames of a run that heated past this multiple of its target temperature are not labelled
MAX_HEATING = 2.0
#: frames of one probe the teacher examines: the last ones before the run ended or failed, and evenly spaced
#: earlier ones
EXAMINED_PER_PROBE = 8


def examined(frames: Sequence, temperature_k: float, n: int = EXAMINED_PER_PROBE) -> list:
    """The frames of one run the teacher examines: those not heated past :data:`MAX_HEATING` times
    ``temperature_k``, at most ``n``: half the last ones (where a failing run departs) and half evenly spaced
    among the rest."""
    usable = [a for a in frames if a.info["md_temperature_k"] <= MAX_HEATING * temperature_k]
    if len(usable) <= n:
        return usable
    tail, head = usable[-(n // 2):], usable[:-(n // 2)]
    pick = np.unique(np.linspace(0, len(head) - 1, n - n // 2).round().astype(int))
    return [head[i] for i in pick] + tail


def student_teacher_gap(labelled: Sequence, potential: str) -> np.ndarray:
    """Per frame of teacher-labelled ``labelled``: ``(|dE| per atom (eV), force RMSE (eV/Å))`` of ``potential``."""
    from screening.calculators import get_calculator

    calc = get_calculator(potential)[0]
    out = np.zeros((len(labelled), 2))
    for k, ref in enumerate(labelled):
        a = ref.copy()
        a.calc = calc
        out[k, 0] = abs(a.get_potential_energy() - ref.get_potential_energy()) / len(a)
        out[k, 1] = float(np.sqrt(np.mean((a.get_forces() - ref.get_forces()) ** 2)))
    return out


def pick_off_frames(gaps: np.ndarray, per_probe: int, *, force_tol: float = FORCE_TOL_EV_PER_A,
                    energy_tol: float = ENERGY_TOL_EV_PER_ATOM) -> list[int]:
    """Indices of the off frames of one probe (force RMSE above ``force_tol`` or energy gap above ``energy_tol``),
    worst first (the larger of the two gaps, each relative to its tolerance), at most ``per_probe``, never two
    neighbours in ``gaps`` (the examined frames of a failing run end in consecutive 5-fs samples)."""
    gaps = np.asarray(gaps, dtype=float).reshape(-1, 2)
    score = np.maximum(gaps[:, 0] / energy_tol, gaps[:, 1] / force_tol)
    chosen: list[int] = []
    for k in np.argsort(-score, kind="stable"):
        if score[k] <= 1.0 or len(chosen) >= per_probe:
            break
        if all(abs(int(k) - c) > 1 for c in chosen):
            chosen.append(int(k))
    return chosen


def _log(metal: str, out_dir) -> tuple[Path, dict]:
    from screening.engine.distilled import label_directory

    path = label_directory(metal, out_dir) / ACTIVE_LOG
    if not path.is_file():
        return path, {"rounds": []}
    try:
        log = json.loads(path.read_text())
        log["rounds"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CandidateError(f"{path}: not an active-learning log ({exc})") from None
    return path, log


def run_round(metal: str, round_index: int, *, probes: Sequence[Probe] = DEFAULT_PROBES, per_probe: int = 4,
              teacher: str | None = None, out_dir: str | Path | None = None, cache: str | None = None,
              store=None, force_tol: float = FORCE_TOL_EV_PER_A, energy_tol: float = ENERGY_TOL_EV_PER_ATOM,
              progress: bool = True) -> dict:
    """One round (module doc): fit, explore, label, pick, append. Returns the round's log entry.

    Args:
        metal: the system (its distilled labels in ``out_dir``, default ``data/engine``).
        round_index: number of this round (seeds and provenance).
        probes: the exploration runs; ``per_probe``: most frames one probe adds.
        teacher: registry name of the labeller (default: the system's teacher, ``make engine-teacher``).
        cache, store: where fitted potentials and teacher labels are cached.
        force_tol, energy_tol: thresholds of an off frame (eV/Å force RMSE, eV/atom).
    """
    from screening.engine.distilled import chosen_or_recorded_settings, distilled_frames, label_directory
    from screening.engine.labelling import label_configurations, write_extxyz
    from screening.engine.potential import fit_pod
    from screening.engine.teacher import teacher_spec
    from screening.provenance import sha256_file
    from screening.reference.dataset import code_version

    directory = label_directory(metal, out_dir)
    teacher = teacher or teacher_spec(metal)
    frames = distilled_frames(metal, out_dir)
    settings = chosen_or_recorded_settings(metal, out_dir)
    fitted = fit_pod(frames, (metal, "H"), settings, cache=cache, progress=False)
    entry: dict[str, Any] = {"round": int(round_index), "potential_data_hash": fitted.data_hash[:24],
                             "n_labels_fitted": len(frames), "teacher": teacher, "probes": []}
    added = []
    for probe in probes:
        seed = 1000 * int(round_index) + len(entry["probes"])
        sampled, outcome = explore(probe, fitted.spec, metal, seed=seed, progress=progress)
        usable = examined(sampled, probe.temperature_k)
        labelled = label_configurations(usable, teacher, store=store, progress=False) if usable else []
        gaps = student_teacher_gap(labelled, fitted.spec) if labelled else np.zeros((0, 2))
        picked = pick_off_frames(gaps, per_probe, force_tol=force_tol, energy_tol=energy_tol)
        for k in picked:
            a = labelled[k]
            a.info.update({"family": "active", "parent": f"active-{probe.name}-r{round_index}",
                           "config_id": f"active-{metal}-r{round_index}-{probe.name}-{a.info['md_step']}",
                           "active_round": int(round_index), "explorer": f"POD {fitted.data_hash[:24]}",
                           "gap_energy_ev_per_atom": float(gaps[k, 0]), "gap_force_rmse_ev_per_a": float(gaps[k, 1])})
            added.append(a)
        outcome.update({"seed": seed, "n_sampled": len(sampled), "n_labelled": len(labelled),
                        "n_off": int(np.sum((gaps[:, 1] > force_tol) | (gaps[:, 0] > energy_tol))),
                        "max_gap_force_rmse_ev_per_a": float(gaps[:, 1].max()) if len(gaps) else None,
                        "max_gap_energy_mev_per_atom": 1000 * float(gaps[:, 0].max()) if len(gaps) else None,
                        "n_added": len(picked)})
        entry["probes"].append(outcome)
        if progress:
            print(f"round {round_index} {probe.name}: {outcome['steps_done']}/{outcome['steps_planned']} steps"
                  f"{' (' + outcome['error'][:60] + ')' if outcome['error'] else ''}, {outcome['n_off']} of "
                  f"{len(labelled)} frames off, max force gap {outcome['max_gap_force_rmse_ev_per_a']}, "
                  f"added {len(picked)}", flush=True)
    entry["n_added"] = len(added)
    entry["converged"] = not added and all(p["error"] is None and p["steps_done"] >= p["steps_planned"]
                                           for p in entry["probes"])
    if added:
        write_extxyz(active_frames(metal, out_dir) + added, directory / ACTIVE_FILE)
    path, log = _log(metal, out_dir)
    entry.update({"code_version": code_version(), "updated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())})
    log["rounds"].append(entry)
    log.update({"kind": "active learning of the distilled POD (teacher labels: fine-tuned universal potential, "
                        "not DFT)", "file": ACTIVE_FILE, "thresholds": {
                            "force_rmse_ev_per_a": force_tol, "energy_ev_per_atom": energy_tol,
                            "max_heating": MAX_HEATING},
                "probes": [asdict(p) for p in probes], "per_probe": per_probe,
                "examined_per_probe": EXAMINED_PER_PROBE,
                "sha256": sha256_file(directory / ACTIVE_FILE) if (directory / ACTIVE_FILE).is_file() else None,
                "regenerate": f"make engine-active METAL={metal}"})
    from screening.provenance import atomic_write

    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(log, indent=1) + "\n"))
    return entry


def repair_active(metal: str, out_dir: str | Path | None = None) -> int:
    """After a run killed between writing the frames of a round and its log entry: keep only the frames of the
    logged rounds and record the file's SHA-256 again. Returns the number of frames dropped."""
    from screening.engine.distilled import label_directory
    from screening.engine.labelling import write_extxyz
    from screening.provenance import atomic_write, sha256_file

    path, log = _log(metal, out_dir)
    active = label_directory(metal, out_dir) / ACTIVE_FILE
    if not active.is_file() or sha256_file(active) == log.get("sha256"):
        return 0
    frames = active_frames(metal, out_dir)
    keep = [a for a in frames if int(a.info.get("active_round", -1)) < len(log["rounds"])]
    if keep:
        write_extxyz(keep, active)
    else:
        active.unlink()
    log["sha256"] = sha256_file(active) if keep else None
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(log, indent=1) + "\n"))
    return len(frames) - len(keep)


def run_active_learning(metal: str, rounds: int, **kwargs) -> list[dict]:
    """Rounds until one converges or ``rounds`` have run in total (earlier rounds in the log count: resumable; the
    frames of a round killed before its log entry was written are dropped, :func:`repair_active`)."""
    if rounds < 1:
        raise CandidateError(f"rounds must be at least 1, got {rounds}")
    repair_active(metal, kwargs.get("out_dir"))
    _, log = _log(metal, kwargs.get("out_dir"))
    done = log["rounds"]
    if done and done[-1].get("converged"):
        return done
    for r in range(len(done), rounds):
        entry = run_round(metal, r, **kwargs)
        done.append(entry)
        if entry["converged"]:
            break
    return done


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screening.engine.active_learning --metal Ca [--rounds 6] [--per-probe 4]``."""
    ap = argparse.ArgumentParser(prog="python -m screening.engine.active_learning", description=__doc__.split("\n")[0])
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--rounds", type=int, default=6, help="total rounds (earlier rounds in the log count)")
    ap.add_argument("--per-probe", type=int, default=4)
    ap.add_argument("--probe-ps", type=float, default=None, help="override every probe's length (ps)")
    args = ap.parse_args(argv)
    if args.per_probe < 1:
        print(f"error: --per-probe must be at least 1, got {args.per_probe}", file=sys.stderr)
        return 2
    probes = DEFAULT_PROBES
    if args.probe_ps is not None:
        if not args.probe_ps > 0:
            print(f"error: --probe-ps must be positive, got {args.probe_ps}", file=sys.stderr)
            return 2
        from dataclasses import replace

        probes = tuple(replace(p, time_ps=args.probe_ps) for p in probes)
    try:
        rounds = run_active_learning(args.metal, args.rounds, probes=probes, per_probe=args.per_probe)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in rounds:
        print(f"round {r['round']}: added {r['n_added']} frames, converged: {r['converged']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
