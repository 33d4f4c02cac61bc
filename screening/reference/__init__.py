"""Reference physics: DFT settings and labelling, the hydride DFT dataset, the fine-tuned default potential.

* :mod:`~screening.reference.dft_settings`: :class:`DFTSettings`, the GPAW settings every DFT number is computed with.
* :mod:`~screening.reference.convergence`: the convergence test that chose them.
* :mod:`~screening.reference.dataset`: the hydride DFT dataset (``make dft-data`` → ``data/dft/*.extxyz``).
* :mod:`~screening.reference.campaign`: labelling on the engine's Dask runner.
* :mod:`~screening.reference.finetune`: CHGNet fine-tuned on the dataset (``make finetune``, registry ``chgnet-hydride``).
* :mod:`~screening.reference.benchmark`: stock, r2SCAN and fine-tuned CHGNet side by side against the DFT frames.
"""
