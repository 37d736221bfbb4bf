"""A child process for tests/test_e5fast.py: the embedded encoder embeds texts in a fresh process, so that
E5FAST_KERNEL and SEMSEARCH_E5_ENGINE (read once per process) choose the C engine and its kernel.

    python tests/embed_child.py TEXTS.npz OUT.npz

TEXTS.npz holds a `texts` array. OUT.npz gets `batch`, every text through encode_passages (batches on
one engine per core, as a build embeds), and `alone`, each text through encode_queries on its own (as a
question is embedded). Prints the engine's name.
"""

from __future__ import annotations

import sys

import numpy as np

from semsearch.encoders import EmbeddedE5


def main() -> None:
    texts = [str(t) for t in np.load(sys.argv[1])["texts"]]
    encoder = EmbeddedE5()
    batch = encoder.encode_passages(texts)
    alone = np.concatenate([encoder.encode_queries([t]) for t in texts])
    np.savez(sys.argv[2], batch=batch, alone=alone)
    print(encoder.engine)


if __name__ == "__main__":
    main()
