"""The figures `reprdyn plot` and the report draw, declared once: name -> what it shows.

Plain data, so the command line lists and checks figure names without loading matplotlib;
`reprdyn.plot` draws each with the function of the same name (dashes as underscores).
"""

FIGURES = {
    "curves": "accuracy against sigma, a line per layer (and sweep point), an interval band, the "
    "sigma chosen on validation marked with its spread",
    "csnr": "empirical CSNR against sigma, with the closed form where stored",
    "label-noise": "the ensemble's gain over the best single sigma at each label-noise level "
    "(Table 1), with intervals",
    "dae-vs-diffusion": "accuracy and sliced Wasserstein distance against sigma per model, a row "
    "per layer (Figure 7)",
    "generalization": "accuracy curves per sweep value, and the generalisation score (appendix "
    "A.2)",
    "cka": "linear CKA between every pair of sigmas, a heatmap per layer and sweep point",
    "segmentation": "test mIoU against sigma, clean input solid, noisy dashed, with interval bands",
}
AT_LOWEST_NOISE = ("curves", "dae-vs-diffusion", "generalization", "segmentation")
