"""The paper's reported numbers and words, quoted from ``shared/paper`` (never computed here).

:mod:`wsm.report.claims` turns them into the claims the book tests (one per sentence of the paper, each with
the setting its numbers were measured at).

Source: *Understanding Weight Similarity of Neural Networks via Chain Normalization Rule and
Hypothesis-Training-Testing*, Section 4.1 text and Fig. 2 (the same values appear in the ICLR-2020
version, Fig. 2 and Section 4.1). Accuracies in percent, for chains/layers 1, 2, 3.
"""


def feature(kind: str, depth=None) -> str:
    """The paper's name of a weight feature (Fig. 2, Table 1): C1, C2, ... a chain (``kind`` "normalized"),
    L1, L2, ... a raw layer (any other kind); ``depth`` None gives the letter alone."""
    return ("C" if kind == "normalized" else "L") + ("" if depth is None else str(depth))


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
PANEL_TITLES = {"a": "MLP-4 classification", "b": "PlainNet-5 classification",     # Figs. 2 and 3
                "c": "MLP-4 retrieval", "d": "PlainNet-5 retrieval"}

EXACT = 0.0      # an invariance: the paper's "the two networks are equivalent" is an exact zero

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
