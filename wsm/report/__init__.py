"""The report: the paper's claims as data, results tables, the summary, committed runs (slices) and
every figure (plots)."""
