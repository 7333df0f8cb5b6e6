"""Salt segmentation on seismic images (seed 002's per-pixel softmax question)."""
