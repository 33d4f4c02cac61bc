"""Tier 3, the core engine: a fast potential trained per chemical system, and MD of the
hydrogenation reaction at a precursor/H2 interface, run only on the top candidates.

Modules:
    training_set  configurations following the seed recipe (templates, strain/rattle, hot MD,
                  slabs/interfaces, dense H2 fluid) over a pressure range
    config_ids    content hashes and ids of configurations (shared by training_set and labelling)
    labelling     reference labels (GPAW DFT or a universal-potential teacher) with selection
    potential     fitting a POD potential with LAMMPS ``fitpod``, its errors and its cache
    interface     the precursor-slab / dense-H2 interface builder and the one H2 packer
    simulate      interface MD and its analysis (uptake, surface melting, product phase)
    depth         depth-resolved liquid-like fraction of slab trajectories, product-phase check, figure
    run           the funnel: ``run_engine(ranking, top=k)`` on dask.distributed
"""

from screening.engine.run import ENGINE_COLUMNS, EngineSettings, run_engine

__all__ = ["ENGINE_COLUMNS", "EngineSettings", "run_engine"]
