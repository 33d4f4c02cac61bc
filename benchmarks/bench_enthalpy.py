"""Tier-2a benchmark: one candidate relaxed with CHGNet at 7 pressures, then the same from cache.

    make bench        (part of it)

"Per candidate" = the candidate's own cell relaxed at all 7 pressures. The references (metal,
H2, lower hydrides) are shared by every candidate of a system, cached once, and not timed here.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")

from screening.calculators import get_calculator  # noqa: E402
from screening.proxies.enthalpy import BUILDER_VERSION  # noqa: E402
from screening.relax import RelaxSettings, cached_relaxation  # noqa: E402
from screening.store import ResultStore  # noqa: E402
from screening.structures import build_structure, load_templates  # noqa: E402

PRESSURES = (0, 25, 50, 100, 150, 200, 300)
CASES = (("Ca", "sodalite"), ("La", "fcc_clathrate"))


def run(store, metal, template, calc, info, settings):
    t = load_templates()[template]
    label = {"phase": f"{metal}H{t.h_per_metal:g}/{template}", "template": template, "metal": metal, "builder": BUILDER_VERSION}
    results = []
    for p in PRESSURES:
        res, cached = cached_relaxation(store, label, lambda p=p: build_structure(t, metal, p), p, calc, info, settings)
        results.append((res, cached))
    return results


def main() -> None:
    calc_name = sys.argv[1] if len(sys.argv) > 1 else "chgnet"
    calc, info = get_calculator(calc_name)
    settings = RelaxSettings()
    print(f"calculator: {info.label}; pressures: {PRESSURES}; cores: {os.cpu_count()}; settings {settings.as_dict()}")
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultStore(os.path.join(tmp, "bench.sqlite"))
        for metal, template in CASES:
            t0 = time.perf_counter()
            first = run(store, metal, template, calc, info, settings)
            cold = time.perf_counter() - t0
            t1 = time.perf_counter()
            second = run(store, metal, template, calc, info, settings)
            warm = time.perf_counter() - t1
            assert all(cached for _, cached in second)
            n_atoms = first[0][0].get("n_atoms")
            steps = sum(r.get("steps") or 0 for r, _ in first)
            conv = sum(bool(r.get("converged")) for r, _ in first)
            print(f"\n{metal} {template} ({n_atoms} atoms): 7 pressures in {cold:7.1f} s "
                  f"({steps} steps, {conv}/7 converged; target <= 120 s)")
            print(f"  rerun from cache {warm:.3f} s -> speedup {cold / warm:,.0f}x (target >= 100x)")


if __name__ == "__main__":
    main()
