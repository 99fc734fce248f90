"""The paper's reported numbers, quoted from ``shared/paper`` (never computed here).

Source: *Understanding Weight Similarity of Neural Networks via Chain Normalization Rule and
Hypothesis-Training-Testing*, Section 4.1 text and Fig. 2 (the same values appear in the ICLR-2020
version, Fig. 2 and Section 4.1). Accuracies in percent, for chains/layers 1, 2, 3.
"""

# Fig. 2, Tiny ImageNet. Panels: (a) MLP classification, (b) CNN classification,
# (c) MLP retrieval, (d) CNN retrieval. Key: (architecture, protocol, kind) -> [depth 1, 2, 3].
FIG2 = {
    ("mlp4", "classification", "normalized"): [99.4, 99.7, 99.1],
    ("mlp4", "classification", "unnormalized"): [62.9, 2.4, 2.8],
    ("plainnet5", "classification", "normalized"): [99.6, 99.3, 99.5],
    ("plainnet5", "classification", "unnormalized"): [9.7, 4.4, 4.0],
    ("mlp4", "retrieval", "normalized"): [99.3, 98.8, 98.0],
    ("mlp4", "retrieval", "unnormalized"): [85.3, 9.5, 5.3],
    ("plainnet5", "retrieval", "normalized"): [98.5, 96.3, 97.0],
    ("plainnet5", "retrieval", "unnormalized"): [15.3, 8.8, 11.0],
}
FIG2_PANELS = {("mlp4", "classification"): "a", ("plainnet5", "classification"): "b",
               ("mlp4", "retrieval"): "c", ("plainnet5", "retrieval"): "d"}

# Fig. 1 (Section 3.3.1): the worked example, MATLAB-like notation transposed as printed.
FIG1 = {
    "h1": [0.2, 0.7, 0.5],
    "W1": [[0.8, 0.9], [0.1, 0.7], [0.8, 0.2]],          # printed as [..]^T: W1 = this^T (2 x 3)
    "W2": [[0.5, 0.9, 0.5], [0.3, 0.1, 0.4], [0.4, 0.3, 0.2]],
    "h1_perm": [0.7, 0.2, 0.5],
    "W1_perm": [[0.1, 0.7], [0.8, 0.9], [0.8, 0.2]],
    "W2_perm": [[0.9, 0.5, 0.5], [0.1, 0.3, 0.4], [0.3, 0.4, 0.2]],
}

ALPHA = 0.05   # Section 4.1: "We use a significance level of alpha = 5%"

# ---------------------------------------------------------------- everything reported, for the summary page
# One entry per number (or claim) the paper reports: where it is (figure, panel), what it is (item), the
# paper's words (quoted), the number (value; None for a claim without one), and ``match``: the results-table
# columns that select our row for it (see wsm.summary). Entries that quote one sentence share its
# ``sentence`` (the summary counts that sentence once; absent: the item is its own sentence); a claim's
# ``expect`` says whether it states that the hypothesis holds or fails (wsm.verdicts.holds / fails).
_FIG2_TITLES = {"a": "MLP-4 classification top-1", "b": "PlainNet-5 classification top-1",
                "c": "MLP-4 retrieval rank-1", "d": "PlainNet-5 retrieval rank-1"}

REPORTED: list[dict] = [
    dict(figure="Fig. 1", panel="a-b", item="permuted 2-3-3 network computes the same output",
         quoted="\"the two networks are equivalent\" (W1', W2' as printed)", value=0.0, source="Section 3.3.1",
         match={"figure": "Fig. 1"}),
]
for (_arch, _protocol), _panel in sorted(FIG2_PANELS.items(), key=lambda kv: kv[1]):
    for _kind, _letter in (("unnormalized", "L"), ("normalized", "C")):
        for _depth, _value in enumerate(FIG2[(_arch, _protocol, _kind)], start=1):
            REPORTED.append(dict(
                figure="Fig. 2", panel=_panel, item=f"{_FIG2_TITLES[_panel]}, {_letter}{_depth}",
                quoted=f"{_value}%", value=_value, source="Section 4.1",
                match={"figure": "Fig. 2", "panel": _panel, "kind": _kind, "depth": _depth}))

# Table 1 (Section 4.3; repeated as Table 3 and in Appendix F.2), NameData, GRU-2, percent.
# Key: (protocol, kind). "Weight classification: 17.2% top-1 | 100.0% top-1;
# Weight retrieval: 21.3% rank-1 | 95.7% rank-1" (columns: unnormalized | normalized).
TABLE1 = {
    ("classification", "unnormalized"): 17.2,
    ("classification", "normalized"): 100.0,
    ("retrieval", "unnormalized"): 21.3,
    ("retrieval", "normalized"): 95.7,
}

# Fig. 3, CIFAR-100 (Section 4.2 and Appendix E.2): the text gives one approximate number for the
# chains of both architectures and both protocols: "our method obtains about 98.0% top-1 accuracy and
# 98.0% rank-1 accuracy, as shown in Fig. 3." The bar values of Fig. 3 are not in our copy of the
# text; the ICLR OCR shows loose fragments ("98.0 97.8", "99,3 99.6 99.2") that cannot be tied to a
# panel or a bar reliably, so they are not used. Unnormalized cells: not reported in the text (None).
FIG3_QUOTE = ("In both weight classification and retrieval, our method obtains about 98.0% top-1 accuracy "
              "and 98.0% rank-1 accuracy, as shown in Fig. 3. The errors are lower than the significance "
              "level of 5%. Hence, we accept the null hypothesis.")
# "about 98.0%": one approximate value for every chain, not per-bar values
FIG3 = {(arch, protocol, kind): ([98.0, 98.0, 98.0] if kind == "normalized" else [None, None, None])
        for arch in ("mlp4", "plainnet5") for protocol in ("classification", "retrieval")
        for kind in ("normalized", "unnormalized")}
FIG3_PANELS = FIG2_PANELS

# Fig. 4 (Section 4.4; ICLR Section 4.4 adds the Adam zoo): claims only, no numbers in the text.
FIG4_CLAIMS = {
    "Depth": "using the residual network structure, using leaky ReLU activation function, or adding one more "
             "layer can still obtain high accuracy. Therefore, the hypothesis still holds.",
    "Res5": "using the residual network structure, using leaky ReLU activation function, or adding one more "
            "layer can still obtain high accuracy. Therefore, the hypothesis still holds.",
    "Leaky": "using the residual network structure, using leaky ReLU activation function, or adding one more "
             "layer can still obtain high accuracy. Therefore, the hypothesis still holds.",
    "Adam": "(ICLR) The Adam optimizer cannot achieve good performance, the reason could be that the Adam "
            "optimizer converges to unstable structures of local solutions and thus leads to dissimilar local "
            "solutions. Therefore, the assumption in this setting does not hold.",
}
ADAM_LR = 0.001   # ICLR Section 4.4: "Adam is implemented by replacing the SGD optimizer with an Adam
                  # optimizer. The initial learning rate is 0.001."

# Fig. 5 (Section 4.5; ICLR Section 4.4 "Effect of four factors"): claims only.
FIG5_CLAIMS = {
    ("classification", "Res5"): "when using the weight representation of PlainNet-5 as that of ResNet-5, the "
                                "accuracy drops",
    ("classification", "Leaky"): "replacing ReLU by Leaky ReLU or adding one layer to PlainNet-5 nearly preserves "
                                 "the weight structure of the local solutions because the accuracy is still high",
    ("classification", "Depth"): "replacing ReLU by Leaky ReLU or adding one layer to PlainNet-5 nearly preserves "
                                 "the weight structure of the local solutions because the accuracy is still high",
    ("classification", "Adam"): "(ICLR) it is observed that Adam obtains low accuracy",
    ("retrieval", "Res5"): "the three factors (i.e., Res5, Leaky, and Depth) do not affect the hypothesis",
    ("retrieval", "Leaky"): "the three factors (i.e., Res5, Leaky, and Depth) do not affect the hypothesis",
    ("retrieval", "Depth"): "the three factors (i.e., Res5, Leaky, and Depth) do not affect the hypothesis",
    ("retrieval", "Adam"): "(ICLR) Local solutions of Adam optimizer could converge to an unstable structure "
                           "... function feature learning cannot extract shared features from them",
}

# Appendix D, Table 2 ("Weight similarity measure on CIFAR-100 using ResNet-MLP-12"):
# weight classification top-1 accuracy (%) by chain number.
TABLE2 = {3: 100.0, 5: 100.0, 7: 100.0, 9: 99.7, 11: 100.0}

# ICLR-2020 version (Function Feature Learning of Neural Networks), Section 4.1, "Local solution
# classification". A qualitative claim: the paper gives no number for it.
ICLR_BOTTOM_UP = (
    "We also observed that all types of chains can achieve high performance. This suggests that semantics "
    "of neural networks are hierarchical in a bottom-up way. In other words, the projection directions of "
    "neural networks are arranged in order. Otherwise, the out-of-order projection directions confuse the "
    "system and thus lead to poor performance.")

# Table 1 (NameData, GRU-2) and Table 2 (ResNet-MLP-12) in the summary.
for (_protocol, _kind), _value in TABLE1.items():
    REPORTED.append(dict(
        figure="Table 1", panel=_protocol, item=f"GRU-2 {_protocol} {'top-1' if _protocol == 'classification' else 'rank-1'}, {_kind}",
        quoted=f"{_value}%", value=_value, source="Section 4.3, Appendix F.2",
        match={"figure": "Table 1", "protocol": _protocol, "kind": _kind}))
for _chain, _value in TABLE2.items():
    REPORTED.append(dict(
        figure="Table 2", panel="", item=f"ResNet-MLP-12 classification top-1, chain {_chain}",
        quoted=f"{_value}%", value=_value, source="Appendix D",
        match={"figure": "Table 2", "kind": "normalized", "depth": _chain}))

# Fig. 3 (one approximate value for every chain), Figs. 4-5 and the ICLR claim (worded, no number:
# value None; the page writes a row with its verdict, see wsm.summary.claim_row) in the summary.
_FIG3_TITLES = {k: v.replace("PlainNet-5", "PlainNet-5 (2-class)").replace("MLP-4", "MLP-4 (2-class)")
                for k, v in _FIG2_TITLES.items()}
for (_arch, _protocol), _panel in sorted(FIG3_PANELS.items(), key=lambda kv: kv[1]):
    for _depth, _value in enumerate(FIG3[(_arch, _protocol, "normalized")], start=1):
        REPORTED.append(dict(
            figure="Fig. 3", panel=_panel, item=f"{_FIG3_TITLES[_panel]}, C{_depth}",
            quoted="about 98.0% (one value in the text for every chain)", value=_value, source="Section 4.2",
            sentence="chains C1-C3 of both architectures, both protocols: about 98.0%",
            match={"figure": "Fig. 3", "panel": _panel, "kind": "normalized", "depth": _depth}))
for _zoo in ("Depth", "Res5", "Leaky", "Adam"):
    REPORTED.append(dict(
        figure="Fig. 4", panel="claim", item=f"{_zoo} zoo: " + ("the hypothesis does not hold" if _zoo == "Adam"
                                                                else "the hypothesis still holds"),
        quoted=FIG4_CLAIMS[_zoo], value=None, source="Section 4.4" + (" (ICLR)" if _zoo == "Adam" else ""),
        expect="fails" if _zoo == "Adam" else "holds",
        sentence="Adam zoo: the hypothesis does not hold" if _zoo == "Adam"
        else "Depth, Res5 and Leaky zoos: the hypothesis still holds",
        match={"figure": "Fig. 4", "panel": "claim", "architecture": _zoo}))
_FIG5_EXPECT = {k: "fails" if k[1] == "Adam" or k == ("classification", "Res5") else "holds" for k in FIG5_CLAIMS}
_FIG5_SENTENCES = {("classification", "Leaky"): "Baseline-trained classification on the Leaky and Depth zoos",
                   ("classification", "Depth"): "Baseline-trained classification on the Leaky and Depth zoos",
                   **{("retrieval", z): "Baseline-trained retrieval on the Res5, Leaky and Depth zoos"
                      for z in ("Res5", "Leaky", "Depth")}}
for (_protocol, _zoo), _claim in FIG5_CLAIMS.items():
    REPORTED.append(dict(
        figure="Fig. 5", panel="claim", item=f"Baseline-trained {_protocol} on the {_zoo} zoo",
        quoted=_claim, value=None, source="Section 4.5" + (" (ICLR)" if _zoo == "Adam" else ""),
        expect=_FIG5_EXPECT[(_protocol, _zoo)], sentence=_FIG5_SENTENCES.get((_protocol, _zoo)),
        match={"figure": "Fig. 5", "panel": "claim", "architecture": _zoo, "protocol": _protocol}))
REPORTED.append(dict(
    figure="ICLR Sec. 4.1 (bottom-up)", panel="claim", item="every chain classifies well; out-of-order chains do not",
    quoted=ICLR_BOTTOM_UP, value=None, source="ICLR-2020 version, Section 4.1", expect="holds",
    match={"figure": "ICLR Sec. 4.1 (bottom-up)", "panel": "claim"}))
for _r in REPORTED:                       # an item that shares no sentence is its own
    _r["sentence"] = _r.get("sentence") or _r["item"]
