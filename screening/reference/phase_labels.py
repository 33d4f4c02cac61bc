"""GPAW labels of the relaxed reaction phases of chosen M–H systems (``make phase-labels`` → ``data/dft_phases/``).

The hydride dataset (:mod:`screening.reference.dataset`) holds templates relaxed by *stock* CHGNet and copies of
them, and the engine's label sets (:mod:`screening.engine.dft_labels`) hold reaction phases for the engine's own
systems only (Ca–H, 20–60 GPa). A fine-tune that saw only those got the Ca–H reaction right and left others where
the default is least trusted: LaH6 + 2 H2 → LaH10 stayed uphill at 160–190 GPa, where LaH10 is made.

This labels, for each metal of a :class:`PhasePlan`, the cells at which tier 2a compares enthalpies: the phases
that enter the hull and the reaction, relaxed by the current default at each pressure, as exact-symmetry primitive
cells plus EOS copies (:func:`~screening.engine.reaction_phases.reaction_phase_cells`; families ``phase_relaxed``
and ``phase_eos``, the ones the fine-tunes repeat in every epoch; ``make finetune-phases`` trains on them). Labels run on the campaign's Dask runner
(:func:`~screening.reference.campaign.label_stream`), at the dataset's DFT settings
(:data:`~screening.reference.dft_settings.DEFAULT_DFT_SETTINGS`, whose convergence test includes LaH10 at 150 GPa),
each stored in the result store as it arrives and exported every few minutes and at the end (also on Ctrl-C or
SIGTERM) to ``<out>/<M>.extxyz`` with per-frame provenance, plus ``<out>/manifest.json`` (the plan of each metal,
settings, relaxing calculator and its checkpoint, code version, counts, file hashes). Metals made at different
pressures are labelled by separate calls into the same folder; each keeps its own plan. Committed labels are put
back into the store on a fresh machine (:func:`screening.engine.labelling.seed_labels`) and never recomputed.

Never label a metal that a fine-tune keeps unseen (:data:`~screening.reference.dataset.UNSEEN_METALS`): its
benchmark would no longer measure transfer. The command refuses them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Collection, Iterator, Sequence

from screening.errors import CandidateError
from screening.reference.dft_settings import DEFAULT_DFT_SETTINGS, DFTSettings

log = logging.getLogger(__name__)

DEFAULT_OUT_DIR = Path(__file__).resolve().parents[2] / "data" / "dft_phases"


@dataclass(frozen=True)
class PhasePlan:
    """Which reaction phases to label (every field is recorded in the manifest).

    Args:
        metals: the systems, e.g. ``("La",)``; none of :data:`~screening.reference.dataset.UNSEEN_METALS`.
        pressures_gpa: relaxation pressures (at least two: tier 2a's H(P) needs two).
        h_per_metal: H contents whose best template at each pressure is labelled (solid H2 always is).
        with_metal: also the lowest-enthalpy metal (a metal cell needs a dense k-mesh: costly).
        calculator: the relaxing potential (the default whose reaction enthalpies the labels are to correct).
        volume_factors: EOS copies per relaxed cell, relative to its volume.
        max_atoms: primitive cells with more atoms are left out.
    """

    metals: tuple[str, ...] = ("La", "Y")
    pressures_gpa: tuple[float, ...] = (120.0, 160.0, 190.0)
    h_per_metal: tuple[float, ...] = (3.0, 4.0, 6.0, 9.0, 10.0)
    with_metal: bool = False
    calculator: str = "chgnet-hydride"
    volume_factors: tuple[float, ...] = (0.94, 1.06)
    max_atoms: int = 12

    def __post_init__(self) -> None:
        from screening.reference.dataset import UNSEEN_METALS

        unseen = sorted(set(self.metals) & set(UNSEEN_METALS))
        if unseen:
            raise CandidateError(f"metal(s) {unseen} are kept unseen by the fine-tune ({list(UNSEEN_METALS)}); "
                                 f"labelling their phases would end the unseen-metal benchmark")
        if not self.metals:
            raise CandidateError("no metal to label")
        from pymatgen.core.periodic_table import Element

        for m in self.metals:
            if not Element.is_valid_symbol(m) or m == "H":
                raise CandidateError(f"not a metal symbol: {m!r}")
        for p in self.pressures_gpa:
            if not 0 <= float(p) <= 500:
                raise CandidateError(f"pressure {p!r} GPa is outside 0–500 GPa")
        if len(set(self.pressures_gpa)) < 2:
            raise CandidateError(f"the reaction phases need at least two pressures, got {list(self.pressures_gpa)}")

    def as_dict(self) -> dict:
        return asdict(self)


def phase_configurations(plan: PhasePlan, *, store=None, progress: bool = True) -> Iterator:
    """The cells of every metal of ``plan`` (relaxed by ``plan.calculator``; cached in the store), each with
    ``info["metal"]``, metal by metal as they are relaxed (a generator: labelling the first metal's cells starts
    while the next metal is relaxed)."""
    from screening.engine.reaction_phases import reaction_phase_cells

    for metal in plan.metals:
        for a in reaction_phase_cells(metal, plan.pressures_gpa, plan.calculator, plan.h_per_metal,
                                      volume_factors=plan.volume_factors, max_atoms=plan.max_atoms,
                                      with_metal=plan.with_metal, store=store, progress=progress):
            a.info["metal"] = metal
            yield a


def committed_frames(out_dir: str | Path = DEFAULT_OUT_DIR) -> list:
    """Every labelled frame of ``<out_dir>/*.extxyz`` (empty when the folder does not exist)."""
    from screening.engine.labelling import read_extxyz

    frames = []
    for path in sorted(Path(out_dir).glob("*.extxyz")):
        frames.extend(read_extxyz(path))
    return frames


def _plans(manifest_path: Path, plan: PhasePlan, present: Collection[str] | None = None) -> list[dict]:
    """The plans of a folder's labels: those of its manifest (an older manifest's single ``plan`` too), less the
    metals ``plan`` labels now and (given ``present``) those without a label in the folder, then ``plan``. Each
    metal's labels come from exactly one plan (its pressures and H contents), so metals made at different pressures
    share one folder."""
    old: list[dict] = []
    if manifest_path.is_file():
        m = json.loads(manifest_path.read_text())
        old = list(m.get("plans", [m["plan"]] if "plan" in m else []))
    out = []
    for p in old:
        metals = [x for x in p["metals"] if x not in plan.metals and (present is None or x in present)]
        if metals:
            out.append({**p, "metals": metals})
    return out + [plan.as_dict()]


def _make_command(plan: dict) -> str:
    """The ``make phase-labels`` call that regenerates one plan's labels."""
    d = PhasePlan()
    pressures = ",".join(f"{p:g}" for p in plan["pressures_gpa"])
    cmd = f"make phase-labels METALS={','.join(plan['metals'])} PRESSURES={pressures}"
    if tuple(plan["h_per_metal"]) != d.h_per_metal:
        cmd += f" H_PER_METAL={','.join(f'{h:g}' for h in plan['h_per_metal'])}"
    return cmd


def export(frames: Sequence, plan: PhasePlan, settings: DFTSettings, out_dir: str | Path = DEFAULT_OUT_DIR, *,
           failures: Sequence[dict] = (), label_calculator: str = "gpaw") -> dict:
    """Write ``<out_dir>/<M>.extxyz`` per metal (pressure, phase, relaxed cell before its copies) and
    ``manifest.json``, atomically; return the counts."""
    from screening.calculators import checkpoint_identity
    from screening.engine.labelling import write_extxyz
    from screening.provenance import atomic_write, sha256_file
    from screening.reference.dataset import code_version

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_metal: dict[str, list] = {}
    for a in frames:
        by_metal.setdefault(str(a.info["metal"]), []).append(a)
    files, counts = {}, {}
    for metal, group in sorted(by_metal.items()):
        group = sorted(group, key=lambda a: (float(a.info["pressure_gpa"]), str(a.info.get("phase", "")),
                                             float(a.info.get("volume_factor", 1.0)) != 1.0,
                                             float(a.info.get("volume_factor", 1.0))))
        path = write_extxyz(group, out_dir / f"{metal}.extxyz")
        files[path.name] = sha256_file(path)
        counts[metal] = {"n": len(group), "by_family": dict(sorted(Counter(a.info["family"] for a in group).items())),
                         "by_phase": dict(sorted(Counter(str(a.info.get("phase")) for a in group).items())),
                         "by_pressure_gpa": {f"{p:g}": n for p, n in
                                             sorted(Counter(float(a.info["pressure_gpa"]) for a in group).items())}}
    plans = _plans(out_dir / "manifest.json", plan, present=set(by_metal))
    manifest = {"kind": "GPAW labels of relaxed reaction phases", "plans": plans,
                "label_calculator": label_calculator,
                "dft_settings": settings.as_dict() if label_calculator == "gpaw" else None,
                "relaxing_calculator_checkpoint_sha256": checkpoint_identity(plan.calculator),
                "code_version": code_version(), "files_sha256": files, "counts": counts, "failures": list(failures),
                "updated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "regenerate": "; ".join(_make_command(p) for p in plans)}
    atomic_write(out_dir / "manifest.json", lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n"))
    return counts


def run_labels(plan: PhasePlan, settings: DFTSettings = DEFAULT_DFT_SETTINGS, *,
               out_dir: str | Path = DEFAULT_OUT_DIR, label_calculator: str = "gpaw", store=None,
               scheduler: str | None = None, n_workers: int | None = None, max_labels: int | None = None,
               export_every_s: float = 300.0, progress: bool = True) -> dict:
    """Label the plan's cells (resumable: committed frames are seeded into the store and kept), exporting as labels
    arrive; return ``{"counts", "n_labelled", "failures"}``. ``label_calculator`` other than ``"gpaw"`` is for
    tests (its settings are empty)."""
    from screening.engine.labelling import seed_labels
    from screening.reference.campaign import label_into_folder
    from screening.reference.dataset import code_version
    from screening.store import ResultStore

    store = store or ResultStore()
    existing = committed_frames(out_dir)
    if existing:
        log.info("%d committed phase labels put into the result store", seed_labels(existing, store))
    return label_into_folder(
        phase_configurations(plan, store=store, progress=progress), existing,
        lambda frames, failures: export(frames, plan, settings, out_dir, failures=failures,
                                        label_calculator=label_calculator),
        label_calculator, settings.calculator_settings if label_calculator == "gpaw" else {}, version=code_version(),
        store=store, scheduler=scheduler, n_workers=n_workers, max_labels=max_labels, export_every_s=export_every_s,
        progress=progress)


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise CandidateError(f"{what}: expected comma-separated numbers, got {text!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screening.reference.phase_labels --metals La,Y --pressures 120,160,190`` (``make phase-labels``)."""
    d = PhasePlan()
    ap = argparse.ArgumentParser(prog="python -m screening.reference.phase_labels", description=__doc__.split("\n")[0])
    ap.add_argument("--metals", default=",".join(d.metals))
    ap.add_argument("--pressures", default=",".join(f"{p:g}" for p in d.pressures_gpa), help="GPa, comma-separated")
    ap.add_argument("--h-per-metal", default=",".join(f"{h:g}" for h in d.h_per_metal))
    ap.add_argument("--with-metal", action="store_true", help="also the metal (dense k-mesh: costly)")
    ap.add_argument("--calculator", default=d.calculator, help="the relaxing potential")
    ap.add_argument("--out", default=str(DEFAULT_OUT_DIR))
    ap.add_argument("--max-labels", type=int, default=None, help="stop after this many new labels")
    ap.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: CPU count)")
    ap.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    from screening.calculators import CalculatorError, require_gpaw

    try:
        metals = tuple(m.strip() for m in args.metals.split(",") if m.strip())
        plan = PhasePlan(metals=metals, pressures_gpa=_floats(args.pressures, "--pressures"),
                         h_per_metal=_floats(args.h_per_metal, "--h-per-metal"), with_metal=args.with_metal,
                         calculator=args.calculator)
        require_gpaw(metals)  # without GPAW, or without a metal's PAW dataset (U): an error before any work
    except (CandidateError, CalculatorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from screening.reference.campaign import campaign_exit_code

    return campaign_exit_code(lambda: run_labels(plan, out_dir=args.out, scheduler=args.scheduler,
                                                 n_workers=args.workers, max_labels=args.max_labels,
                                                 progress=not args.quiet), str(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
