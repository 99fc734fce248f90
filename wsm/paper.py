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
