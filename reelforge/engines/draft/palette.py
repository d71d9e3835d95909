"""A colour theme for a prompt: a few keywords pick a mood, the seed varies it.

The draft engine cannot understand a prompt, but it can make "a sunset over the sea" look warmer than
"a forest at night". The first theme keyword found in the prompt wins; without one, the palette is a
harmonious random scheme drawn from the seed. The words are a nice touch, not a language model.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Theme:
    """Colours are RGB floats 0-1; particle velocity is in frame heights per second."""

    name: str
    sky_top: np.ndarray
    horizon: np.ndarray
    accents: np.ndarray  # k x 3: plasma and blob colours
    ground: np.ndarray
    particle: np.ndarray
    particle_velocity: tuple[float, float]  # (vx, vy); negative vy rises
    ground_layers: int  # 0 = open sky / space
    ground_motion: float  # 0 = still hills; > 0 = rolling waves (radians per second)


# name: (keywords, sky_top, horizon, accents, ground, particle, velocity, layers, motion)
_THEMES: dict[str, tuple] = {
    "sunset": (
        ("sunset", "sunrise", "dusk", "dawn", "evening", "golden"),
        (58, 28, 92),
        (252, 150, 70),
        ((245, 95, 120), (255, 190, 90), (150, 60, 140)),
        (45, 20, 45),
        (255, 220, 170),
        (0.01, -0.02),
        2,
        0.0,
    ),
    "ocean": (
        ("ocean", "sea", "beach", "wave", "waves", "water", "underwater", "coral", "lake", "river"),
        (12, 50, 110),
        (70, 170, 215),
        ((40, 140, 200), (120, 225, 230), (20, 90, 160)),
        (10, 70, 110),
        (210, 245, 255),
        (0.0, -0.05),
        3,
        0.6,
    ),
    "forest": (
        ("forest", "jungle", "tree", "trees", "woods", "garden", "meadow", "grass", "leaf", "leaves"),
        (60, 120, 90),
        (190, 220, 150),
        ((70, 150, 80), (170, 210, 100), (30, 100, 60)),
        (18, 50, 28),
        (240, 245, 180),
        (0.02, 0.01),
        3,
        0.0,
    ),
    "night": (
        ("night", "space", "star", "stars", "galaxy", "moon", "cosmic", "nebula", "midnight"),
        (4, 6, 26),
        (30, 30, 85),
        ((110, 70, 220), (40, 110, 220), (200, 80, 200)),
        (8, 8, 22),
        (255, 255, 255),
        (0.004, 0.0),
        0,
        0.0,
    ),
    "fire": (
        ("fire", "flame", "flames", "lava", "volcano", "ember", "embers", "burning", "inferno"),
        (45, 6, 6),
        (220, 70, 20),
        ((255, 140, 30), (255, 210, 80), (180, 30, 20)),
        (30, 8, 4),
        (255, 190, 90),
        (0.01, -0.12),
        1,
        0.0,
    ),
    "snow": (
        ("snow", "snowy", "ice", "winter", "frost", "frozen", "arctic", "glacier"),
        (150, 185, 225),
        (236, 242, 252),
        ((190, 215, 245), (255, 255, 255), (140, 180, 230)),
        (210, 222, 240),
        (255, 255, 255),
        (0.015, 0.07),
        2,
        0.0,
    ),
    "desert": (
        ("desert", "sand", "dune", "dunes", "canyon", "sahara"),
        (80, 140, 205),
        (245, 210, 150),
        ((230, 170, 100), (250, 225, 170), (200, 120, 70)),
        (190, 125, 70),
        (255, 235, 200),
        (0.04, 0.0),
        2,
        0.0,
    ),
    "city": (
        ("city", "neon", "cyberpunk", "cyber", "urban", "street", "downtown", "synthwave"),
        (16, 10, 45),
        (210, 50, 160),
        ((50, 220, 235), (240, 60, 200), (120, 60, 255)),
        (18, 14, 32),
        (120, 240, 255),
        (0.0, -0.015),
        1,
        0.0,
    ),
}

_WORD = re.compile(r"[a-z]+")


def _rgb(values: tuple | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).reshape(-1, 3).squeeze() / 255.0


def _jitter(color: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Shift hue and lightness a little so two seeds of one theme differ."""
    rows = np.atleast_2d(color)
    out = []
    for r, g, b in rows:
        hue, light, sat = colorsys.rgb_to_hls(float(r), float(g), float(b))
        hue = (hue + rng.uniform(-amount, amount)) % 1.0
        light = float(np.clip(light * rng.uniform(1 - amount, 1 + amount), 0.0, 1.0))
        out.append(colorsys.hls_to_rgb(hue, light, sat))
    return np.asarray(out, dtype=np.float32).reshape(color.shape)


def _hls(hue: float, light: float, sat: float) -> np.ndarray:
    return np.asarray(colorsys.hls_to_rgb(hue % 1.0, light, sat), dtype=np.float32)


def theme_for(prompt: str, rng: np.random.Generator) -> Theme:
    """The theme of the first keyword in `prompt`, or a seeded random scheme."""
    words = _WORD.findall(prompt.lower())
    for word in words:
        for name, spec in _THEMES.items():
            if word in spec[0]:
                _, top, horizon, accents, ground, particle, velocity, layers, motion = spec
                return Theme(
                    name=name,
                    sky_top=_jitter(_rgb(top), rng, 0.03),
                    horizon=_jitter(_rgb(horizon), rng, 0.03),
                    accents=_jitter(_rgb(accents), rng, 0.04),
                    ground=_jitter(_rgb(ground), rng, 0.03),
                    particle=_rgb(particle),
                    particle_velocity=velocity,
                    ground_layers=layers,
                    ground_motion=motion,
                )

    hue = float(rng.uniform())
    spread = float(rng.choice([0.08, 0.17, 0.33, 0.5]))  # analogous ... complementary
    accents = np.stack(
        [
            _hls(hue + spread, 0.6, 0.75),
            _hls(hue - spread, 0.55, 0.7),
            _hls(hue + 0.5 * spread, 0.7, 0.8),
        ]
    )
    return Theme(
        name="abstract",
        sky_top=_hls(hue, 0.18, 0.55),
        horizon=_hls(hue + 0.1 * spread, 0.62, 0.6),
        accents=accents,
        ground=_hls(hue - 0.05, 0.14, 0.45),
        particle=_hls(hue + spread, 0.9, 0.6),
        particle_velocity=(float(rng.uniform(-0.03, 0.03)), float(rng.uniform(-0.04, 0.01))),
        ground_layers=int(rng.integers(0, 3)),
        ground_motion=0.0,
    )
