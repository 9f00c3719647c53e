"""Real anatomy for placement tests: TotalSegmentator's example label map (3 mm voxels)."""

import numpy as np
import pytest

# A left L1 pedicle screw plan read off the label map (LPS mm): entry on the posterior
# elements lateral to the canal, target in the anterior third of the vertebral body.
ENTRY = np.array([22.0, -88.0, 130.3])
TARGET = np.array([8.0, -128.0, 130.3])
STRUCTURES = [
    {"name": "L1", "label": 31, "role": "host", "margin_mm": 1.0},
    {"name": "spinal cord", "label": 79, "role": "critical"},
    {"name": "aorta", "label": 52, "role": "critical"},
    {"name": "IVC", "label": 63, "role": "critical"},
]


@pytest.fixture(scope="session")
def totalseg_seg(shared_data):
    from sim.io import load

    return load(shared_data / "ct" / "totalseg" / "example_seg.nii.gz")


@pytest.fixture(scope="session")
def spine_scene(totalseg_seg):
    from sim.placement.anatomy import scene_from_case

    scene = scene_from_case(totalseg_seg, STRUCTURES)
    scene.prepare([ENTRY, TARGET], reach=40.0)
    return scene
