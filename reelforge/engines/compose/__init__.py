"""The compose engine: AVS Template JSON v1 -> MP4 on one ffmpeg filter graph. See `engine.py`.

What the API layer uses: `parse_template`, `template_duration`, `media_sources`, `with_refs`
(`template.py`) and `output_format`, `ASPECT_RATIOS`, `QUALITIES` (`quality.py`).
"""

from reelforge.domain.formats import ASPECT_RATIOS, QUALITIES, OutputFormat, output_format
from reelforge.domain.template import (
    MAX_BLOCKS,
    MAX_DURATION,
    MAX_INPUT_BYTES,
    Template,
    media_sources,
    parse_template,
    template_duration,
    with_refs,
)
from reelforge.engines.compose.engine import ComposeEngine

__all__ = [
    "ASPECT_RATIOS",
    "MAX_BLOCKS",
    "MAX_DURATION",
    "MAX_INPUT_BYTES",
    "QUALITIES",
    "ComposeEngine",
    "OutputFormat",
    "Template",
    "media_sources",
    "output_format",
    "parse_template",
    "template_duration",
    "with_refs",
]
