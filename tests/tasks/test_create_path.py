"""The one create path and the expiry sweep, on real storage and a real database: uploads a refused create
stored are deleted, a created task keeps exactly what it references, and expiry deletes those inputs too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from reelforge.config import Settings
from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.request import GenerationRequest, ImageInput, Kind
from reelforge.domain.task import TaskOutput, TaskStatus
from reelforge.edge.create import CreatePath
from reelforge.edge.idempotency import Idempotency
from reelforge.edge.uploads import UploadSession
from reelforge.services import Services, build_services
from reelforge.store.tables import utcnow
from reelforge.tasks.expiry import ExpirySweeper
from reelforge.tasks.service import Submission
from tests.asgi import QueueOnly
from tests.helpers import data_uri, png_bytes


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Services:
    built = build_services(Settings(data_dir=tmp_path / "data", database_url=database_url))
    yield built
    built.close()


def uploads(services: Services) -> list[Path]:
    root = services.settings.artifacts_dir / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def i2v_build(image: str, *, fail_after_store: bool = False):
    def build(session: UploadSession) -> Submission:
        stored = session.accept_image(image, "/image")
        if fail_after_store:
            raise invalid("duration must be one of 5 / 10", "/duration")
        request = GenerationRequest(
            kind=Kind.IMAGE_TO_VIDEO,
            images=[ImageInput(source=stored.source)],
            width=160,
            height=96,
            fps=12,
            duration=5,
        )
        return Submission(model="i2v", request=request, input={}, dialect="test")

    return build


def test_refusals_leave_no_upload_and_take_no_credit(services: Services) -> None:
    executor = QueueOnly()
    path = CreatePath(services.tasks, services.storage, services.settings, executor)
    image = data_uri(png_bytes(64, 48))
    rich, poor = services.keys.create(credits=100).key, services.keys.create(credits=1).key

    with pytest.raises(ReelforgeError) as refused:  # the surface's own check, after the image was stored
        path.create(rich.id, i2v_build(image, fail_after_store=True))
    assert refused.value.code == ErrorCode.INVALID_PAYLOAD
    with pytest.raises(ReelforgeError) as broke:  # 402 from the task service
        path.create(poor.id, i2v_build(image))
    assert broke.value.code == ErrorCode.INSUFFICIENT_CREDITS
    assert uploads(services) == [] and executor.dispatched == []
    assert services.tasks.balance(poor.id) == 1 and services.tasks.balance(rich.id) == 100

    first = path.create(rich.id, i2v_build(image), Idempotency.of("k1", "same"))
    again = path.create(rich.id, i2v_build(image), Idempotency.of("k1", "same"))  # a retry: the first task
    with pytest.raises(ReelforgeError) as conflict:
        path.create(rich.id, i2v_build(image), Idempotency.of("k1", "other"))
    assert conflict.value.code == ErrorCode.IDEMPOTENCY_CONFLICT
    assert again.id == first.id and services.tasks.balance(rich.id) == 100 - first.cost
    assert [p.relative_to(services.settings.artifacts_dir).as_posix() for p in uploads(services)] == (
        first.request.stored_keys()
    )
    assert executor.dispatched == [first.id, first.id]  # dispatching a repeat is harmless; never before commit


def test_expiry_deletes_the_uploaded_inputs_with_the_outputs(services: Services) -> None:
    path = CreatePath(services.tasks, services.storage, services.settings, QueueOnly())
    key = services.keys.create(credits=100).key
    task = path.create(key.id, i2v_build(data_uri(png_bytes(64, 48))))
    claimed = services.work.claim("w1")
    assert claimed is not None and claimed.id == task.id
    services.storage.put_bytes(f"tasks/{task.id}/video.mp4", b"mp4")
    services.storage.put_bytes(f"tasks/{task.id}/thumb.jpg", b"jpg")
    output = TaskOutput(
        video_key=f"tasks/{task.id}/video.mp4",
        thumbnail_key=f"tasks/{task.id}/thumb.jpg",
        duration=5,
        width=160,
        height=96,
        fps=12,
    )
    assert services.work.complete(task.id, output, owner="w1").status == TaskStatus.SUCCEEDED
    assert len(uploads(services)) == 1

    sweeper = ExpirySweeper(services.db, services.storage, lifecycle=services.lifecycle)
    assert sweeper.sweep_once(utcnow() + timedelta(days=3650)) == 1
    assert uploads(services) == []
    assert not (services.settings.artifacts_dir / "tasks" / task.id).exists()
    assert services.tasks.get(task.id).outputs_expired
