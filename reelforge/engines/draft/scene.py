"""Text-to-video for the draft engine: an animated procedural scene derived from a prompt and a seed.

This is not AI. The prompt seeds a random generator and picks a colour theme (see `palette.py`); the
scene is a sky gradient, slowly moving colour fields (sums of sinusoids with a domain warp), drifting
soft light blobs, optional hill or wave silhouettes, drifting particles (dust, stars, snow, embers)
and a slow camera move (zoom and pan, with parallax between layers), captioned with the prompt.

Speed: everything soft is computed at 1/4 to 1/6 of the output resolution in float32, then upscaled
and converted to I420 in one swscale pass; only the particles (small sprites, added as light to the
Y, U, V planes) and the caption (a pre-rendered box) touch full-resolution pixels. Frames are I420
arrays (see `reelforge.media.yuv`), the format x264 takes, so nothing is converted twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reelforge.engines.draft.caption import Caption
from reelforge.engines.draft.palette import theme_for
from reelforge.engines.draft.seeds import rng_for
from reelforge.media.yuv import planes, rgb_delta_to_yuv, rgb_to_i420

# The soft layers are computed on a grid whose longer side is at most _GRID_SIDE and at least _MIN_SCALE
# times smaller than the output (1280x720 -> 214x120), then upscaled: they are smooth, nothing is lost.
_GRID_SIDE = 240
_MIN_SCALE = 4


def ease(p: float) -> float:
    """Cosine ease-in-out on 0..1: camera moves start and stop gently."""
    p = min(1.0, max(0.0, p))
    return 0.5 - 0.5 * math.cos(math.pi * p)


def _lut(colors: np.ndarray, size: int = 256) -> np.ndarray:
    """A cyclic colour ramp through `colors` (k x 3), `size` entries, float32."""
    k = len(colors)
    pos = np.linspace(0.0, k, size, endpoint=False, dtype=np.float32)
    i0 = np.floor(pos).astype(int) % k
    i1 = (i0 + 1) % k
    w = (pos - np.floor(pos))[:, None]
    w = w * w * (3 - 2 * w)  # smooth between stops
    return (colors[i0] * (1 - w) + colors[i1] * w).astype(np.float32)


def _sprites(radius: int) -> tuple[np.ndarray, np.ndarray]:
    """A soft round dot (gaussian falloff) for the Y plane and its half-resolution chroma version.

    The luma sprite is (2r+2) square with the dot centred on pixel r, so it covers whole 2x2 chroma
    blocks when placed at an even offset.
    """
    r = np.arange(-radius, radius + 2, dtype=np.float32)
    d2 = r[None, :] ** 2 + r[:, None] ** 2
    luma = np.exp(-d2 / (0.5 * radius * radius + 0.25)).astype(np.float32)
    chroma = luma.reshape(radius + 1, 2, radius + 1, 2).mean(axis=(1, 3))
    return luma, chroma


@dataclass(frozen=True)
class _Camera:
    """Zoom and pan at one instant; `depth` (0 far .. 1 near) scales both, which gives parallax."""

    zoom: float
    pan_x: float
    pan_y: float
    cx: float  # centre of the view in world units (x spans 0..aspect, y spans 0..1)
    cy: float

    def to_world_x(self, x: np.ndarray, depth: float) -> np.ndarray:
        z = 1 + (self.zoom - 1) * depth
        return (x - self.cx) / z + self.cx + self.pan_x * depth

    def to_world_y(self, y: np.ndarray, depth: float) -> np.ndarray:
        z = 1 + (self.zoom - 1) * depth
        return (y - self.cy) / z + self.cy + self.pan_y * depth

    def to_screen(self, u: float, v: float, depth: float) -> tuple[float, float, float]:
        """World point -> screen point (world units) and the layer's magnification."""
        z = 1 + (self.zoom - 1) * depth
        return (u - self.cx - self.pan_x * depth) * z + self.cx, (v - self.cy - self.pan_y * depth) * z + self.cy, z


@dataclass(frozen=True)
class _Blob:
    u: float
    v: float
    ax: float
    ay: float
    fx: float
    fy: float
    phase: float
    radius: float
    depth: float
    color: np.ndarray  # premultiplied by the blob's strength


@dataclass(frozen=True)
class _Ridge:
    base: float
    waves: list[tuple[float, float, float]]  # (amplitude, frequency, phase)
    speed: float
    color: np.ndarray
    depth: float


class TextScene:
    """Frames of one procedural scene; `frame(i)` is a pure function of the constructor arguments and i."""

    def __init__(
        self,
        prompt: str,
        *,
        seed: int,
        width: int,
        height: int,
        fps: float,
        n_frames: int,
        variant: int = 0,
        caption: bool = True,
    ) -> None:
        self.width, self.height, self.fps, self.n_frames = width, height, fps, n_frames
        rng = rng_for("draft.scene", prompt, seed, variant)
        self.theme = theme = theme_for(prompt, rng)
        self.aspect = aspect = width / height

        # Low-resolution sample grid in screen units (x: 0..aspect, y: 0..1, pixel centres).
        scale = max(_MIN_SCALE, -(-max(width, height) // _GRID_SIDE))
        gw, gh = max(8, -(-width // scale)), max(8, -(-height // scale))
        self._gx = ((np.arange(gw, dtype=np.float32) + 0.5) / gw * aspect)[None, :]
        self._gy = ((np.arange(gh, dtype=np.float32) + 0.5) / gh)[:, None]
        self._grid_size = (gw, gh)

        def uniform(low: float, high: float) -> float:
            # Python floats, not numpy float64 scalars: those would promote the float32 maths to float64.
            return float(rng.uniform(low, high))

        # Camera: a slow zoom (mostly in) and a pan in a seeded direction.
        self._zoom_amount = uniform(0.06, 0.16)
        self._zoom_in = uniform(0, 1) < 0.7
        angle, pan = uniform(0, 2 * math.pi), uniform(0.04, 0.1)
        self._pan = (pan * math.cos(angle), 0.5 * pan * math.sin(angle))

        # Colour field: plane waves plus one radial wave, domain-warped, through a colour ramp.
        self._waves = [
            (
                float(rng.normal(0, 3)),
                float(rng.normal(0, 3)),
                uniform(0.25, 0.8) * (1 if uniform(0, 1) < 0.5 else -1),
                uniform(0, 2 * math.pi),
            )
            for _ in range(3)
        ]
        self._radial = (uniform(0, aspect), uniform(0, 1), uniform(4, 9), uniform(0.4, 1.0))
        self._warp = (uniform(1.5, 3.5), uniform(0.1, 0.3), uniform(0.08, 0.2))
        self._field_strength = uniform(0.25, 0.45)
        self._lut = _lut(theme.accents[rng.permutation(len(theme.accents))])

        # Soft light blobs drifting on Lissajous paths.
        self._blobs = [
            _Blob(
                u=aspect * uniform(0.1, 0.9),
                v=uniform(0.1, 0.7),
                ax=uniform(0.05, 0.25),
                ay=uniform(0.03, 0.12),
                fx=uniform(0.04, 0.15),
                fy=uniform(0.04, 0.15),
                phase=uniform(0, 2 * math.pi),
                radius=uniform(0.1, 0.3),
                depth=uniform(0.3, 0.8),
                color=theme.accents[int(rng.integers(len(theme.accents)))] * uniform(0.25, 0.55),
            )
            for _ in range(int(rng.integers(4, 8)))
        ]

        # Hills (still) or swells (moving) in front of the sky, far to near.
        layers = theme.ground_layers
        wavy = theme.ground_motion > 0
        self._ground = []
        for layer in range(layers):
            haze = (layers - 1 - layer) / max(1, layers) * 0.6
            amp_low, amp_high = (0.004, 0.012) if wavy else (0.01 / (1 + 0.5 * layer), 0.06 / (1 + 0.5 * layer))
            freq_low, freq_high = (3, 14) if wavy else (1.5, 7)
            self._ground.append(
                _Ridge(
                    base=0.6 + 0.35 * (layer + 1) / (layers + 1) + uniform(-0.03, 0.03),
                    waves=[
                        (uniform(amp_low, amp_high), uniform(freq_low, freq_high), uniform(0, 2 * math.pi))
                        for _ in range(3)
                    ],
                    speed=theme.ground_motion * uniform(0.6, 1.4) * (1 + layer),
                    color=(theme.ground * (1 - haze) + theme.horizon * haze).astype(np.float32),
                    depth=0.5 + 0.5 * (layer + 1) / layers,
                )
            )

        # Vignette, applied at low resolution where it is free.
        dx = (self._gx / aspect - 0.5) * 2
        dy = (self._gy - 0.5) * 2
        self._vignette = (1 - 0.28 * np.clip(dx * dx * 0.6 + dy * dy * 0.8, 0, 1.5) / 1.5)[..., None]

        # Particles: stars twinkle in place, the rest drift with the theme's wind.
        is_stars = theme.name == "night"
        count = 140 if is_stars else 60
        vx, vy = theme.particle_velocity
        size_low, size_high = (0.0015, 0.004) if is_stars else (0.003, 0.009)
        self._particles = np.column_stack(
            [
                rng.uniform(-0.1, aspect + 0.1, count),  # u
                rng.uniform(-0.1, 1.1, count),  # v
                vx * rng.uniform(0.5, 1.5, count),  # du/dt
                vy * rng.uniform(0.5, 1.5, count),  # dv/dt
                rng.uniform(0.2, 1.0, count),  # depth
                rng.uniform(size_low, size_high, count),  # size (fraction of the shorter side)
                rng.uniform(0.3, 1.0, count),  # brightness
                rng.uniform(0.5, 3.0, count),  # twinkle rad/s
                rng.uniform(0, 2 * math.pi, count),  # phase
            ]
        )
        self._particle_yuv = [float(d) for d in rgb_delta_to_yuv(theme.particle * 255)]
        self._sprites: dict[int, tuple[np.ndarray, np.ndarray]] = {}

        self._caption = Caption(prompt, width, height) if caption and prompt.strip() else None

    def camera(self, i: int) -> _Camera:
        """The camera at frame i: eased over the whole clip, so it starts and ends at rest."""
        e = ease(i / max(1, self.n_frames - 1))
        zoom = 1 + self._zoom_amount * (e if self._zoom_in else 1 - e)
        return _Camera(zoom, self._pan[0] * (e - 0.5), self._pan[1] * (e - 0.5), self.aspect / 2, 0.5)

    def frame(self, i: int) -> np.ndarray:
        """Frame `i` as an I420 array (see `reelforge.media.yuv`)."""
        t = i / self.fps
        cam = self.camera(i)
        frame = rgb_to_i420(self._soft_layers(t, cam), self.width, self.height)
        self._draw_particles(frame, t, cam)
        if self._caption is not None:
            self._caption.apply(frame)
        return frame

    def _soft_layers(self, t: float, cam: _Camera) -> np.ndarray:
        theme = self.theme
        gx, gy = self._gx, self._gy

        # Sky: a vertical gradient, far away (little parallax).
        sv = np.clip(cam.to_world_y(gy, 0.15), 0, 1) ** 1.3
        color = theme.sky_top * (1 - sv[..., None]) + theme.horizon * sv[..., None]  # gh x 1 x 3
        color = np.broadcast_to(color, (*gy.shape[:1], gx.shape[1], 3))

        # Colour field.
        u = cam.to_world_x(gx, 0.35)
        v = cam.to_world_y(gy, 0.35)
        wf, wa, ws = self._warp
        uw = u + wa * np.sin(wf * v + ws * t)  # gh x gw
        field = np.zeros(uw.shape, np.float32)
        for kx, ky, speed, phase in self._waves:
            field += np.sin(kx * uw + ky * v + (speed * t + phase))
        rx, ry, rk, rs = self._radial
        field += 0.8 * np.sin(rk * np.sqrt((uw - rx) ** 2 + (v - ry) ** 2) - rs * t)
        index = ((field * (1 / 7.6) + 0.5) * 255).astype(np.int32) & 255
        color = color + (self._lut[index] - color) * self._field_strength

        # Light blobs, screen-blended: 1 - (1 - c) * (1 - light).
        inverse = 1 - color
        for b in self._blobs:
            bu = b.u + b.ax * math.sin(2 * math.pi * b.fx * t + b.phase)
            bv = b.v + b.ay * math.sin(2 * math.pi * b.fy * t + 1.7 * b.phase)
            sx, sy, z = cam.to_screen(bu, bv, b.depth)
            falloff = -1 / (b.radius * z) ** 2
            w = np.exp((gx - sx) ** 2 * falloff) * np.exp((gy - sy) ** 2 * falloff)  # separable gaussian
            inverse *= 1 - w[..., None] * b.color
        color = 1 - inverse

        # Hills or swells, far to near.
        edge = 1.5 / self._grid_size[1]
        for g in self._ground:
            gu = cam.to_world_x(gx[0], g.depth)
            ridge = np.full(gu.shape, g.base, np.float32)
            for amp, freq, phase in g.waves:
                ridge += amp * np.sin(freq * gu + (phase + g.speed * t))
            below = cam.to_world_y(gy, g.depth) - ridge[None, :]  # gh x gw
            mask = np.clip(below * (1 / edge) + 0.5, 0, 1)[..., None]
            shade = g.color * (1 - 0.35 * np.clip(below, 0, 1))[..., None]
            color += (shade - color) * mask

        color = color * self._vignette
        return (np.clip(color, 0, 1) * 255 + 0.5).astype(np.uint8)

    def _draw_particles(self, frame: np.ndarray, t: float, cam: _Camera) -> None:
        """Add each particle's light to the Y plane (and to U, V if the light is coloured)."""
        p = self._particles
        span_u, span_v = self.aspect + 0.2, 1.2
        us = (p[:, 0] + p[:, 2] * t + 0.1) % span_u - 0.1
        vs = (p[:, 1] + p[:, 3] * t + 0.1) % span_v - 0.1
        twinkle = p[:, 6] * (0.65 + 0.35 * np.sin(p[:, 7] * t + p[:, 8]))
        y_plane, u_plane, v_plane = planes(frame)
        d_y, d_u, d_v = self._particle_yuv
        coloured = abs(d_u) > 0.5 or abs(d_v) > 0.5
        h, w = self.height, self.width
        short_side = min(h, w)
        for k in range(len(p)):
            depth = float(p[k, 4])
            sx, sy, z = cam.to_screen(float(us[k]), float(vs[k]), depth)
            radius = max(1, round(float(p[k, 5]) * short_side * (0.5 + depth) * z))
            x0 = round(sx / self.aspect * w) - radius
            y0 = round(sy * h) - radius
            x0 -= x0 % 2  # even, so luma and chroma stay aligned
            y0 -= y0 % 2
            size = 2 * radius + 2
            if x0 + size <= 0 or y0 + size <= 0 or x0 >= w or y0 >= h:
                continue
            sprites = self._sprites.get(radius)
            if sprites is None:
                sprites = self._sprites[radius] = _sprites(radius)
            gain = float(twinkle[k])
            _add_light(y_plane, sprites[0], x0, y0, gain * d_y, 16, 235)
            if coloured:
                _add_light(u_plane, sprites[1], x0 // 2, y0 // 2, gain * d_u, 16, 240)
                _add_light(v_plane, sprites[1], x0 // 2, y0 // 2, gain * d_v, 16, 240)


def _add_light(plane: np.ndarray, sprite: np.ndarray, x0: int, y0: int, amount: float, low: int, high: int) -> None:
    """plane[y0:, x0:] += sprite * amount, clipped to the plane and to [low, high]."""
    h, w = plane.shape
    sh, sw = sprite.shape
    cx0, cy0 = max(0, -x0), max(0, -y0)
    cx1, cy1 = sw - max(0, x0 + sw - w), sh - max(0, y0 + sh - h)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    region = plane[y0 + cy0 : y0 + cy1, x0 + cx0 : x0 + cx1]
    lit = region + (sprite[cy0:cy1, cx0:cx1] * amount + 0.5)  # + 0.5: round, not truncate
    np.clip(lit, low, high, out=lit)
    region[...] = lit
