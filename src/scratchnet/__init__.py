"""scratchnet: deep learning from scratch in NumPy, columns are samples."""
