"""Image processing: segmentation and surface extraction."""
