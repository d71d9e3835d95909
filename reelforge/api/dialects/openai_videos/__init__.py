"""OpenAI's Videos API (`/v1/videos`) with the Agnes-Video-V2.0 contract (`shared/specs/002_*.txt`).

- `protocol`: the request and response bodies (pydantic), with the contract's rules and wording;
- `translate`: a validated body to a `Submission` for the create path (default model, standardised size,
  images stored through the upload session);
- `render`: tasks as video objects, errors as `{"error": {message, type, param, code}}`;
- `routes`: the endpoints; `sizes`: Agnes' size standardisation.

Video objects carry OpenAI's fields plus Agnes' `task_id`, `video_id` and `video_url`. Agnes puts the
finished video's URL in `remixed_from_video_id`; reelforge does too, except for a remix, where the field
keeps OpenAI's meaning (the id of the video it was remixed from).
"""

from __future__ import annotations

from reelforge.api.dialect import Dialect
from reelforge.api.dialects.openai_videos.render import render_error, render_video
from reelforge.api.dialects.openai_videos.routes import FAST_READS, router
from reelforge.api.dialects.openai_videos.translate import DIALECT

OPENAI_VIDEOS_DIALECT = Dialect(
    DIALECT, (router,), render_error, render_video, prefixes=("/v1/", "/agnesapi"), reads=FAST_READS
)

__all__ = ["OPENAI_VIDEOS_DIALECT"]
