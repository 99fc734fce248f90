"""Write a Tiny ImageNet archive holding only its first classes, in the official layout.

``python -m bench.tiny_subset SRC_ZIP DEST_FOLDER --classes 16`` writes
``DEST_FOLDER/tiny-imagenet-200.zip`` with the first ``--classes`` wnids in sorted order (so the
first ``classes / 4`` learning tasks are exactly the full archive's tasks), their training images
and boxes, their validation images, and ``wnids.txt``, ``words.txt`` and ``val_annotations.txt``
cut to them. For machines that cannot hold the whole 226 MB archive (the accelerator machine
``bench.paper_slice`` runs on receives at most 64 MiB)."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

P = "tiny-imagenet-200/"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dest", type=Path)
    ap.add_argument("--classes", type=int, default=16)
    args = ap.parse_args(argv)
    with zipfile.ZipFile(args.src) as src:
        wnids = sorted(set(src.read(P + "wnids.txt").decode().split()))[:args.classes]
        keep = set(wnids)
        val = [ln for ln in src.read(P + "val/val_annotations.txt").decode().splitlines()
               if len(ln.split("\t")) > 1 and ln.split("\t")[1] in keep]
        val_images = {P + "val/images/" + ln.split("\t")[0] for ln in val}
        words = [ln for ln in src.read(P + "words.txt").decode().splitlines() if ln.split("\t")[0] in keep]
        args.dest.mkdir(parents=True, exist_ok=True)
        tmp = args.dest / ".tiny-imagenet-200.zip.tmp"
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as out:
            out.writestr(P + "wnids.txt", "\n".join(wnids) + "\n")
            out.writestr(P + "words.txt", "\n".join(words) + "\n")
            out.writestr(P + "val/val_annotations.txt", "\n".join(val) + "\n")
            for name in src.namelist():
                parts = name[len(P):].split("/")
                if (parts[0] == "train" and len(parts) > 2 and parts[1] in keep and not name.endswith("/")) \
                        or name in val_images:
                    out.writestr(name, src.read(name))
        tmp.replace(args.dest / "tiny-imagenet-200.zip")
    print(f"wrote {args.dest / 'tiny-imagenet-200.zip'}: {len(wnids)} classes, {len(val)} val images")


if __name__ == "__main__":
    main()
