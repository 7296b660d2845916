"""The HRSOD paper's published comparisons, as data: Table 1 (adaptive F-beta, S-measure and MAE of nine
methods and the paper's two models on five data sets) and Table 2 (boundary displacement error, in pixels, on the
two high-resolution sets) of Zeng et al., "Towards High-Resolution Salient Object Detection", ICCV 2019.

Copied from the paper's text; tests/test_paper_tables.py checks every number against the tables' lines
(tests/fixtures/paper_table1.txt, paper_table2.txt). "Ours-D" is the paper's model trained on DUTS-TR,
"Ours-DH" on DUTS-TR + HRSOD-TR; Table 2's "Ours" does not say which (the text reports BDE of "our predictions").
The bracketed numbers are the paper's references.
"""

from __future__ import annotations

TABLE1_DATASETS = ("HRSOD-Test", "DAVIS-S", "DUTS-Test", "HKU-IS", "THUR")
TABLE1_METRICS = ("Fbeta_adaptive", "S_measure", "MAE")  # Table 1's "Fβ", "S-m", "MAE", in this order

# (method, reference, the 15 numbers of its row: Fβ, S-m, MAE on each of TABLE1_DATASETS in turn)
_TABLE1_ROWS = (
    ("RFCN", "[34]", (.530, .608, .121, .728, .842, .062, .712, .792, .091, .835, .746, .079, .627, .793, .100)),
    ("DHS", "[24]", (.746, .848, .059, .774, .865, .034, .724, .817, .067, .855, .746, .053, .673, .803, .082)),
    ("UCF", "[50]", (.700, .819, .095, .648, .827, .080, .629, .778, .117, .808, .747, .074, .645, .785, .112)),
    ("Amulet", "[49]", (.717, .830, .075, .755, .848, .042, .676, .803, .085, .839, .772, .052, .670, .797, .094)),
    ("NLDF", "[26]", (.763, .853, .055, .718, .858, .042, .743, .815, .066, .874, .770, .048, .697, .801, .080)),
    ("DSS", "[14]", (.756, .840, .060, .728, .865, .041, .791, .822, .057, .895, .779, .041, .731, .801, .073)),
    ("RAS", "[3]", (.773, .842, .058, .763, .867, .038, .755, .839, .060, .871, .887, .045, .696, .787, .082)),
    ("DGRL", "[36]", (.789, .848, .053, .772, .859, .038, .768, .841, .051, .882, .802, .037, .716, .816, .077)),
    ("DGF", "[38]", (.795, .824, .058, .785, .847, .037, .776, .803, .062, .893, .869, .043, .734, .799, .070)),
    ("Ours-D", "", (.857, .876, .040, .850, .875, .029, .796, .827, .052, .891, .882, .042, .740, .820, .067)),
    ("Ours-DH", "", (.888, .897, .030, .888, .876, .026, .791, .822, .051, .886, .877, .042, .749, .826, .064)),
)

TABLE2_DATASETS = ("HRSOD-Test", "DAVIS-S")
_TABLE2_METHODS = ("Ours", "NLDF", "UCF", "DHS", "DSS", "Amulet", "RAS", "DGRL", "DGF", "RFCN")
_TABLE2_BDE = {
    "HRSOD-Test": (17.57, 22.34, 22.84, 22.85, 25.53, 25.75, 26.26, 30.10, 32.91, 68.98),
    "DAVIS-S": (8.18, 23.56, 15.69, 18.34, 19.35, 21.11, 18.49, 14.48, 19.77, 21.00),
}

# The `--dataset` names (TFDS builders of datasets/) of the tables' columns.
DATASET_COLUMNS = {"hrsod": "HRSOD-Test", "davis_s": "DAVIS-S", "duts": "DUTS-Test", "hku_is": "HKU-IS",
                   "thur": "THUR"}


def table1() -> dict[str, dict[str, dict[str, float]]]:
    """Table 1 as {method: {data set: {"Fbeta_adaptive", "S_measure", "MAE": value}}}, rows in the paper's order."""
    return {method: {dataset: dict(zip(TABLE1_METRICS, numbers[3 * i:3 * i + 3]))
                     for i, dataset in enumerate(TABLE1_DATASETS)}
            for method, _, numbers in _TABLE1_ROWS}


def table2() -> dict[str, dict[str, dict[str, float]]]:
    """Table 2 as {method: {data set: {"BDE": pixels}}}, methods in the paper's order."""
    return {method: {dataset: {"BDE": _TABLE2_BDE[dataset][i]} for dataset in TABLE2_DATASETS}
            for i, method in enumerate(_TABLE2_METHODS)}


def references() -> dict[str, str]:
    """{method: its reference number in the paper, e.g. "[34]"; "" for the paper's own models}."""
    return {method: reference for method, reference, _ in _TABLE1_ROWS} | {"Ours": ""}
