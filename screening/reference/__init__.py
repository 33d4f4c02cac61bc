"""Reference physics: DFT settings and labelling, the hydride DFT dataset, the fine-tuned default potential.

* :mod:`~screening.reference.dft_settings`: :class:`DFTSettings`, the GPAW settings every DFT number is computed with.
* :mod:`~screening.reference.convergence`: the convergence test that chose them.
* :mod:`~screening.reference.dataset`: the hydride DFT dataset (``make dft-data`` → ``data/dft/*.extxyz``).
"""
