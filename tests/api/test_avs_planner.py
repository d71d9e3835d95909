"""The optional chat planner of prompt jobs, against a local server speaking OpenAI's chat completions."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from reelforge.media.probe import probe
from tests.api.test_avs import bearer, issue_token, wait_job
from tests.helpers import LocalHTTPServer, download, new_key, png_bytes

MODELS = """
[models.avs-prompt]
engine = "creator"
kind = "compose"
credits_per_second = 0
credits_per_job = 8
credits_per_asset = {{ video = 5, image = 0, audio = 3 }}

[models.avs-prompt.settings]
clip_engine = "draft"
planner_url = "{url}/v1"
planner_model = "planner-test"
planner_api_key_env = "PLANNER_TEST_KEY"
"""


def chat_answer(content: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "planner-test",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        }
    ).encode()


@pytest.mark.parametrize("answer", ["good", "nonsense"])
def test_chat_planner_plans_or_falls_back(start_server, tmp_path: Path, answer: str) -> None:
    planned = {
        "version": "1",
        "name": "planned",
        "blocks": [
            {"type": "image", "start": 0, "duration": 3, "source": {"uploadName": "still.png"}},
            {"type": "text", "start": 0.5, "duration": 2, "text": "PLANNED BY THE MODEL"},
        ],
    }
    content = "```json\n" + json.dumps(planned) + "\n```" if answer == "good" else "I cannot do that"
    chat = LocalHTTPServer(lambda m, p, h, b: (200, {"content-type": "application/json"}, chat_answer(content)))
    models = tmp_path / "models.toml"
    models.write_text(MODELS.format(url=chat.url))
    try:
        server = start_server(env={"REELFORGE_MODELS_FILE": str(models), "PLANNER_TEST_KEY": "sk-test-123"})
        key = new_key(server, credits=50)
        token = issue_token(server, key["key"])["token"]
        body = {"prompt": "A 6 second teaser for the product", "output": {"aspectRatio": "16:9", "quality": "draft"}}
        response = httpx.post(
            f"{server.url}/api/v1/videos/from-prompt",
            headers=bearer(token),
            data={"request": json.dumps(body)},
            files=[("files", ("still.png", png_bytes(320, 180)))],
        )
        assert response.status_code == 202, response.text
        done, _ = wait_job(server, response.json()["jobId"], token)
    finally:
        chat.close()
    assert done["status"] == "completed", done
    info = probe(download(done["result"]["downloadUrl"], tmp_path / "out.mp4"))
    # the model's 3 s plan, or the deterministic planner's 6 s when the answer is unusable
    assert info.duration == pytest.approx(3.0 if answer == "good" else 6.0, abs=0.1)
    [call] = chat.requests
    assert call["path"] == "/v1/chat/completions"
    assert call["headers"]["authorization"] == "Bearer sk-test-123"
    sent = json.loads(call["body"])
    assert sent["model"] == "planner-test"
    user = json.loads(sent["messages"][-1]["content"])
    assert user["lengthSeconds"] == 6 and [a["name"] for a in user["assets"]] == ["still.png"]
    assert "sk-test-123" not in server.log()
