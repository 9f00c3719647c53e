"""Paired-point registration: exact recovery, FRE, similarity, bad input, files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.errors import FileFormatError, InputError
from sim.geometry.rigid import apply_transform, random_rigid, transform_error
from sim.io.transform_file import load_transform, save_transform
from sim.registration.landmarks import paired_point, pairs_from_markups, read_landmarks


def test_rigid_recovery_is_exact_and_fre_zero():
    rng = np.random.default_rng(0)
    fixed = rng.uniform(-50, 50, (6, 3))
    t = random_rigid(rng, 200.0)
    moving = apply_transform(np.linalg.inv(t), fixed)
    res = paired_point(moving, fixed)
    np.testing.assert_allclose(res.matrix, t, atol=1e-9)
    assert res.fre_rms < 1e-9 and res.scale == 1.0


def test_fre_per_point_matches_noise():
    rng = np.random.default_rng(1)
    fixed = rng.uniform(-80, 80, (8, 3))
    t = random_rigid(rng, 100.0)
    moving = apply_transform(np.linalg.inv(t), fixed)
    fixed_noisy = fixed + rng.normal(0, 0.5, fixed.shape)
    res = paired_point(moving, fixed_noisy)
    expected = np.linalg.norm(apply_transform(res.matrix, moving) - fixed_noisy, axis=1)
    np.testing.assert_allclose(res.fre, expected)
    assert 0.1 < res.fre_rms < 1.0
    rot, trans = transform_error(res.matrix, t, at=fixed.mean(axis=0))
    assert rot < 1.0 and trans < 1.0


def test_similarity_recovers_scale():
    rng = np.random.default_rng(2)
    fixed = rng.uniform(-10, 10, (5, 3))
    t = random_rigid(rng, 20.0)
    moving = apply_transform(np.linalg.inv(t), fixed) / 25.4  # the moving side is in inches
    res = paired_point(moving, fixed, scale=True)
    assert res.scale == pytest.approx(25.4, rel=1e-9)
    assert res.fre_rms < 1e-9


def test_degenerate_landmarks_are_refused():
    with pytest.raises(InputError):
        paired_point(np.zeros((2, 3)), np.zeros((2, 3)))
    line = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], float)
    with pytest.raises(InputError, match="collinear"):
        paired_point(line, line)


def test_landmark_files(tmp_path):
    csv = tmp_path / "pairs.csv"
    csv.write_text("name,mx,my,mz,fx,fy,fz\nA,0,0,0,1,0,0\nB,1,0,0,2,0,0\nC,0,1,0,1,1,0\n")
    m, f, names = read_landmarks(csv)
    assert names == ["A", "B", "C"] and m.shape == (3, 3)
    np.testing.assert_allclose(f - m, [[1, 0, 0]] * 3)
    js = tmp_path / "pairs.json"
    js.write_text(json.dumps({"moving": m.tolist(), "fixed": f.tolist()}))
    m2, f2, _ = read_landmarks(js)
    np.testing.assert_allclose(m2, m)
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3,4,5\n")
    with pytest.raises(FileFormatError, match="six"):
        read_landmarks(bad)
    with pytest.raises(FileFormatError):
        read_landmarks(tmp_path / "missing.csv")
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(FileFormatError):
        read_landmarks(tmp_path / "b.json")


def test_transform_json_roundtrip(tmp_path):
    t = random_rigid(np.random.default_rng(3), 10)
    p = save_transform(tmp_path / "t.json", t, fitness=0.9)
    np.testing.assert_array_equal(load_transform(p), t)
    (tmp_path / "bad.json").write_text(json.dumps({"matrix": [[1, 2], [3, 4]]}))
    with pytest.raises(FileFormatError):
        load_transform(tmp_path / "bad.json")


def test_pairs_from_point_markups_by_label():
    from sim.markups.model import Markup

    rng = np.random.default_rng(9)
    fixed_pts = rng.uniform(-40, 40, (4, 3))
    t = random_rigid(rng, 30.0)
    moving_pts = apply_transform(np.linalg.inv(t), fixed_pts)
    image = Markup("image", "point", points=tuple(map(tuple, fixed_pts)),
                   labels=("nasion", "tragus L", "tragus R", "chin"))
    order = [2, 0, 3, 1]  # the pointer touched them in another order
    pointer = Markup("pointer", "point", points=tuple(tuple(moving_pts[i]) for i in order),
                     labels=tuple(image.labels[i] for i in order))
    m, f, names = pairs_from_markups(pointer, image)
    assert names == [image.labels[i] for i in order]
    res = paired_point(m, f, names=names)
    np.testing.assert_allclose(res.matrix, t, atol=1e-9)
    assert set(res.summary()["fre_mm"]) == set(image.labels)
    with pytest.raises(InputError):
        pairs_from_markups(Markup("a", "point", points=((0, 0, 0),)), image)
