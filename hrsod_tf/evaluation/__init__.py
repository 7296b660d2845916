"""Evaluation: the SOD metrics, evaluating folders or arrays of maps, the Table-4 report and its plots.

    metrics.py         Fβ, S, E, MAE, weighted F, PR curves (pysodmetrics), BDE and mBA (written here)
    folders.py         evaluating folders or arrays of maps; tables and JSON
    variant_report.py  evaluating a trained pipeline's variants on a data set (Table 4), and its report
    plots.py           PR curves and example grids
"""
