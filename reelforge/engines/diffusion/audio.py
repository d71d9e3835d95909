"""LTX-2's soundtrack into the MP4: AAC, starting with the first frame, exactly as long as the video.

LTX-2 generates audio with the video (its vocoder's waveform, `LTX2PipelineOutput.audio`); the pipeline sizes
it from the *generated* frame count, so after the engine drops snapped-up frames it can be a little longer than
the delivered video, and the vocoder's hop can leave it a little shorter. Here it is cut, or padded with
silence, to the video's duration, then muxed: the H.264 packets are copied untouched (no second video encode),
the waveform is encoded to AAC by FFmpeg's native encoder through PyAV (already the video encoder's library).
The result replaces `video.mp4` only once complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np


def fit_audio(waveform: np.ndarray, sample_rate: int, duration: float) -> np.ndarray:
    """`waveform` (channels x samples, float) cut or zero-padded to `duration` seconds, as float32 in -1..1."""
    wave = np.asarray(waveform, dtype=np.float32)
    if wave.ndim == 1:
        wave = wave[None, :]
    want = max(1, round(duration * sample_rate))
    wave = wave[:, :want] if wave.shape[1] >= want else np.pad(wave, ((0, 0), (0, want - wave.shape[1])))
    return np.ascontiguousarray(np.clip(wave, -1.0, 1.0))


def mux_audio(video_path: Path, waveform: np.ndarray, sample_rate: int, duration: float, bitrate: int) -> None:
    """Add `waveform` to the MP4 at `video_path` as an AAC track of exactly `duration` seconds."""
    wave = fit_audio(waveform, sample_rate, duration)
    channels = min(wave.shape[0], 2)
    wave = wave[:channels]
    layout = "stereo" if channels == 2 else "mono"
    partial = video_path.with_name(f".{video_path.name}.audio.partial")
    try:
        with (
            av.open(str(video_path)) as source,
            av.open(str(partial), mode="w", format="mp4", container_options={"movflags": "+faststart"}) as out,
        ):
            video_in = source.streams.video[0]
            video_out = out.add_stream_from_template(video_in)
            audio_out = out.add_stream("aac", rate=sample_rate, layout=layout)
            audio_out.bit_rate = bitrate
            for packet in source.demux(video_in):
                if packet.dts is None:  # the demuxer's flush packet
                    continue
                packet.stream = video_out
                out.mux(packet)
            frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout=layout)
            frame.sample_rate = sample_rate
            frame.pts = 0
            out.mux(audio_out.encode(frame))
            out.mux(audio_out.encode(None))
        os.replace(partial, video_path)
    finally:
        partial.unlink(missing_ok=True)
