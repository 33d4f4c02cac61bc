"""Reference physics: DFT settings and labelling, the hydride DFT dataset, the fine-tuned default potential."""
