"""The client commands run as a user runs them (subprocesses), exit codes included."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from reelforge.media.probe import probe
from tests.conftest import ServerProcess
from tests.helpers import LocalHTTPServer, balance, download, eventually, make_video, new_key, png_bytes


def cli(
    *args: str, home: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REELFORGE_", "AIVIDEO_"))}
    clean.update({"XDG_CONFIG_HOME": str(home / "config"), "COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "reelforge", *args], env=clean, capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_generate_saves_the_video_and_prints_json(server: ServerProcess, tmp_path: Path) -> None:
    picture = tmp_path / "still.png"
    picture.write_bytes(png_bytes(320, 180))
    result = cli(
        "generate",
        "--prompt",
        "a slow pan over a harbour",
        "--scene",
        "image-to-video",
        "--image",
        str(picture),
        "--out",
        str(tmp_path / "out.mp4"),
        "--json",
        "--host",
        server.url,
        "--api-key",
        server.key,
        home=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["status"] == "success" and body["localPath"].endswith("out.mp4") and body["videoUrl"]
    assert probe(tmp_path / "out.mp4").duration == 5.0


def test_login_then_commands_use_the_saved_config(server: ServerProcess, tmp_path: Path) -> None:
    assert cli("login", "--host", server.url, "--api-key", server.key, home=tmp_path).returncode == 0
    saved = tmp_path / "config" / "reelforge" / "config.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    listed = cli("tasks", "--json", home=tmp_path)
    assert listed.returncode == 0 and isinstance(json.loads(listed.stdout), list)
    models = cli("models", "--json", home=tmp_path)
    assert "t2v" in {m["name"] for m in json.loads(models.stdout)}


def test_run_workflow_envelopes_and_exit_codes(server: ServerProcess, start_server, tmp_path: Path) -> None:
    base = ("--host", server.url, "--api-key", server.key)
    payload = json.dumps({"prompt": "tide pools", "aspectRatio": "1:1", "duration": "5"})
    full = cli("run-workflow", "--model", "t2v", "--payload", payload, *base, home=tmp_path)
    assert full.returncode == 0, full.stdout + full.stderr
    envelope = json.loads(full.stdout)
    assert envelope["ok"] is True and envelope["status"] == "COMPLETED" and envelope["data"]["output"]["videoUrl"]
    status = json.loads(
        cli("run-workflow", "--action", "getStatus", "--taskId", envelope["taskId"], *base, home=tmp_path).stdout
    )
    assert status == {**status, "ok": True, "taskId": envelope["taskId"], "status": "COMPLETED"}

    def code_of(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
        done = cli("run-workflow", *args, home=tmp_path, env=env)
        return done.returncode, json.loads(done.stdout)

    code, body = code_of("--model", "nope", "--payload", payload, *base)
    assert (code, body["errorCode"]) == (2, "INVALID_MODEL")
    code, body = code_of("--model", "t2v", "--payload", payload, "--host", server.url, "--api-key", "rf_bad")
    assert (code, body["errorCode"]) == (3, "AUTH_FAILED")
    code, body = code_of("--action", "getTask", "--taskId", "ck-none", *base)
    assert (code, body["errorCode"]) == (8, "TASK_NOT_FOUND")
    poor = new_key(server, credits=1)
    code, body = code_of("--model", "t2v", "--payload", payload, "--host", server.url, "--api-key", poor["key"])
    assert (code, body["errorCode"]) == (7, "INSUFFICIENT_CREDITS")
    code, body = code_of(
        "--action",
        "getStatus",
        "--taskId",
        "x",
        "--host",
        "http://127.0.0.1:9",
        *base[2:],
        env={"AIVIDEO_MAX_RETRIES": "0"},
    )
    assert (code, body["errorCode"]) == (9, "NETWORK_ERROR")
    idle = start_server(workers=0)
    code, body = code_of(
        "--model", "t2v", "--payload", payload, "--timeout", "1", "--host", idle.url, "--api-key", idle.key
    )
    assert (code, body["errorCode"], body["status"]) == (5, "TIMEOUT", "SUBMITTED")
    assert "getStatus" in body["nextSteps"][0] and body["taskId"] in body["nextSteps"][0]


def test_a_failed_task_never_exits_zero(server: ServerProcess, tmp_path: Path) -> None:
    result = cli(
        "generate",
        "--prompt",
        "x",
        "--scene",
        "image-to-video",
        "--image",
        "http://127.0.0.1:9/missing.png",
        "--out",
        str(tmp_path / "never.mp4"),
        "--json",
        "--host",
        server.url,
        "--api-key",
        server.key,
        home=tmp_path,
    )
    assert result.returncode == 6, result.stdout + result.stderr
    assert json.loads(result.stdout)["ok"] is False
    assert not (tmp_path / "never.mp4").exists()


def test_the_modkie_spelling_video_and_actions(server: ServerProcess, tmp_path: Path) -> None:
    base = ("--host", server.url, "--api-key", server.key)
    listed = cli("actions", "list", "--json", "--host", server.url, home=tmp_path)
    assert "ai.video.generate_and_wait" in {a["name"] for a in json.loads(listed.stdout)}
    schema = json.loads(cli("actions", "schema", "ai.video.generate", "--host", server.url, home=tmp_path).stdout)
    assert "prompt" in schema["input"]["properties"]
    made = cli(
        "video",
        "generate",
        "--prompt",
        "cinematic product shot",
        "--scene",
        "text-to-video",
        "--out",
        str(tmp_path / "v.mp4"),
        "--json",
        *base,
        home=tmp_path,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    answer = json.loads(made.stdout)
    assert answer["status"] == "success" and answer["localPath"].endswith("v.mp4")
    assert probe(tmp_path / "v.mp4").duration == 5.0
    queried = json.loads(cli("video", "query", "--task-id", answer["taskId"], "--json", *base, home=tmp_path).stdout)
    assert queried["taskId"] == answer["taskId"] and queried["status"] == "success"


def test_out_folders_are_made_and_out_is_optional(server: ServerProcess, tmp_path: Path) -> None:
    """The Modkie document's own example (`--out ./output/video.mp4`) and `generate --out newdir/clip.mp4`,
    relative to the working directory, in folders that do not exist yet."""
    base = ("--host", server.url, "--api-key", server.key)
    work = tmp_path / "work"
    work.mkdir()
    made = cli(
        "generate", "--prompt", "harbour at dawn", "--out", "newdir/clip.mp4", "--json", *base, home=tmp_path, cwd=work
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert probe(work / "newdir" / "clip.mp4").duration == 5.0
    modkie = cli(
        "video",
        "generate",
        "--prompt",
        "cinematic product shot, soft lighting, slow camera push",
        "--scene",
        "text-to-video",
        "--out",
        "./output/video.mp4",
        *base,
        home=tmp_path,
        cwd=work,
    )
    assert modkie.returncode == 0, modkie.stdout + modkie.stderr
    assert "Traceback" not in modkie.stderr and probe(work / "output" / "video.mp4").duration == 5.0

    linked = cli("generate", "--prompt", "no download", "--json", *base, home=tmp_path, cwd=work)
    assert linked.returncode == 0, linked.stderr
    body = json.loads(linked.stdout)
    assert body["localPath"] is None and download(body["videoUrl"], tmp_path / "linked.mp4").stat().st_size > 0
    answer = json.loads(cli("video", "generate", "--prompt", "no out", "--json", *base, home=tmp_path).stdout)
    assert answer["status"] == "success" and answer["localPath"] is None and answer["videoUrl"]


def test_an_unwritable_out_is_refused_before_any_credit(server: ServerProcess, tmp_path: Path) -> None:
    poor = new_key(server, credits=20)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in (("generate",), ("video", "generate")):
        done = cli(
            *command,
            "--prompt",
            "x",
            "--out",
            str(blocker / "clip.mp4"),
            "--json",
            "--host",
            server.url,
            "--api-key",
            poor["key"],
            home=tmp_path,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        body = json.loads(done.stdout)
        assert body["errorCode"] == "INVALID_PAYLOAD" and "cannot create the folder" in body["errorMessage"]
        assert "Traceback" not in done.stderr
    assert balance(server, poor["id"])[0] == 20


def test_executor_create_generation_and_bad_environment(server: ServerProcess, tmp_path: Path) -> None:
    base = ("--host", server.url, "--api-key", server.key)
    payload = json.dumps({"prompt": "tide pools", "aspectRatio": "1:1", "duration": "5"})
    made = cli(
        "run-workflow", "--action", "createGeneration", "--model", "t2v", "--payload", payload, *base, home=tmp_path
    )
    assert made.returncode == 0, made.stdout + made.stderr
    created = json.loads(made.stdout)
    assert created["ok"] is True and created["status"] == "SUBMITTED" and created["taskId"]

    def status() -> bool:
        done = cli("run-workflow", "--action", "getStatus", "--taskId", created["taskId"], *base, home=tmp_path)
        return json.loads(done.stdout)["status"] == "COMPLETED"

    eventually(status, timeout=120, what="the created task completes")
    for name in ("AIVIDEO_TIMEOUT_MS", "AIVIDEO_MAX_RETRIES"):
        done = cli("run-workflow", "--model", "t2v", "--payload", payload, *base, home=tmp_path, env={name: "soon"})
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        body = json.loads(done.stdout)
        assert body["ok"] is False and body["errorCode"] == "INVALID_PAYLOAD" and name in body["errorMessage"]
    bad = cli("run-workflow", "--action", "deleteEverything", "--taskId", "x", *base, home=tmp_path)
    assert bad.returncode == 2 and "createGeneration" in json.loads(bad.stdout)["errorMessage"]


def test_a_failed_task_envelope_carries_its_error_and_next_steps(server: ServerProcess, tmp_path: Path) -> None:
    base = ("--host", server.url, "--api-key", server.key)
    missing = "http://127.0.0.1:9/missing.png"
    payload = json.dumps({"prompt": "x", "image": missing, "duration": "5"})
    done = cli("run-workflow", "--model", "i2v", "--payload", payload, *base, home=tmp_path)
    assert done.returncode == 6, done.stdout + done.stderr
    body = json.loads(done.stdout)
    assert (body["ok"], body["status"], body["errorCode"]) == (False, "FAILED", "TASK_FAILED")
    assert (
        body["errorMessage"].startswith("INPUT_FETCH_FAILED: ")
        and body["data"]["error"]["code"] == "INPUT_FETCH_FAILED"
    )
    assert "public" in body["nextSteps"][0] and "given back" in body["nextSteps"][0]

    modkie = cli(
        "video",
        "generate",
        "--prompt",
        "x",
        "--scene",
        "image-to-video",
        "--image-input",
        missing,
        "--json",
        *base,
        home=tmp_path,
    )
    assert modkie.returncode == 6, modkie.stdout + modkie.stderr
    answer = json.loads(modkie.stdout)
    assert answer["errorCode"] == "TASK_FAILED" and answer["errorMessage"].startswith("INPUT_FETCH_FAILED: ")
    assert "task failed" not in answer["errorMessage"] and answer["nextSteps"]


def test_the_modkie_provider_model_and_video_input_flags(server: ServerProcess, tmp_path: Path) -> None:
    base = ("--host", server.url, "--api-key", server.key)
    made = cli(
        "video",
        "generate",
        "--prompt",
        "ocean waves at sunset",
        "--provider",
        "kie",
        "--model",
        "bytedance/seedance-2-mini",
        "--out",
        str(tmp_path / "kie" / "waves.mp4"),
        "--json",
        *base,
        home=tmp_path,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    answer = json.loads(made.stdout)
    assert (answer["provider"], answer["model"], answer["status"]) == ("kie", "bytedance/seedance-2-mini", "success")
    assert probe(tmp_path / "kie" / "waves.mp4").duration == 5.0
    unknown = cli(
        "video", "generate", "--prompt", "x", "--provider", "kie", "--model", "nope", "--json", *base, home=tmp_path
    )
    assert unknown.returncode == 2 and "bytedance/seedance-2-mini" in json.loads(unknown.stdout)["errorMessage"]

    clip = make_video(tmp_path / "in.mp4", 2.0, "orange", audio=False).read_bytes()
    peer = LocalHTTPServer(lambda method, path, headers, body: (200, {"content-type": "video/mp4"}, clip))
    try:
        restyled = cli(
            "video",
            "generate",
            "--prompt",
            "film look",
            "--scene",
            "video-to-video",
            "--video-input",
            f"{peer.url}/in.mp4",
            "--out",
            str(tmp_path / "v2v.mp4"),
            "--json",
            *base,
            home=tmp_path,
        )
    finally:
        peer.close()
    assert restyled.returncode == 0, restyled.stdout + restyled.stderr
    assert probe(tmp_path / "v2v.mp4").duration > 0 and peer.requests[0]["path"] == "/in.mp4"


def test_a_video_made_but_not_saved_is_an_envelope_with_its_link(start_server, tmp_path: Path) -> None:
    """After the charge nothing ends in a traceback: here the download link points nowhere (a wrong
    REELFORGE_PUBLIC_URL), and the envelope still hands over the task and its link."""
    lost = start_server(workers=1, env={"REELFORGE_PUBLIC_URL": "http://127.0.0.1:9"})
    for command in (("generate",), ("video", "generate")):
        done = cli(
            *command,
            "--prompt",
            "x",
            "--out",
            str(tmp_path / "never" / "clip.mp4"),
            "--json",
            "--host",
            lost.url,
            "--api-key",
            lost.key,
            home=tmp_path,
            env={"AIVIDEO_MAX_RETRIES": "0"},
        )
        assert done.returncode == 9 and "Traceback" not in done.stderr, done.stdout + done.stderr
        body = json.loads(done.stdout)
        assert (body["ok"], body["status"], body["errorCode"]) == (False, "COMPLETED", "NETWORK_ERROR")
        assert body["data"]["videoUrl"].startswith("http://127.0.0.1:9/") and body["taskId"] in body["nextSteps"][0]
        assert "was not saved to" in body["errorMessage"] and not (tmp_path / "never" / "clip.mp4").exists()
