// A task's live view: status, phase, progress and, once done, the video. Server-sent events from
// /api/console/tasks/{id}/events; if the stream breaks, polling GET /api/console/tasks/{id} takes over.

import { api, stream } from "./api.js";
import { badge, clear, errorBox, h, progressBar } from "./ui.js";

export function taskSummary(task) {
  const node = h(
    "div",
    { class: "watch", "data-task": task.id, "data-status": task.status },
    h("p", { class: "row" }, badge(task.status), h("span", { class: "phase" }, task.phase ?? ""),
      h("span", { class: "pct", "data-progress": String(task.progress) }, `${task.progress}%`)),
    progressBar(task.progress, `progress of ${task.id}`),
    h("p", { class: "muted" }, "task ", h("code", {}, task.id), ` · ${task.model} · ${task.cost} credits`),
  );
  if (task.error) node.append(errorBox({ code: task.error.code, message: task.error.message }));
  if (task.output?.videoUrl) {
    node.append(
      h("video", { controls: true, src: task.output.videoUrl, poster: task.output.thumbnailUrl, preload: "metadata",
        width: "100%", "aria-label": `video of ${task.id}` }),
      h("p", {}, h("a", { href: task.output.videoUrl, download: `${task.id}.mp4` }, "Download MP4"), " · ",
        h("a", { href: "#/gallery" }, "Open the gallery")),
    );
  }
  return node;
}

/** Follow `taskId` into `panel` until it ends; returns a stop function. `onEnd(task)` once terminal. */
export function watch(taskId, panel, { onUpdate, onEnd } = {}) {
  const controller = new AbortController();
  let last = null;
  const show = (task) => {
    last = task;
    clear(panel, taskSummary(task));
    onUpdate?.(task);
  };
  const terminal = (t) => ["succeeded", "failed", "cancelled"].includes(t?.status);
  (async () => {
    try {
      await stream(`/api/console/tasks/${taskId}/events`, (name, data) => name === "task" && show(data), {
        signal: controller.signal,
      });
    } catch (err) {
      if (err.name === "AbortError") return;
    }
    while (!controller.signal.aborted && !terminal(last)) {
      try {
        show(await api(`/api/console/tasks/${taskId}`, { signal: controller.signal }));
      } catch (err) {
        if (err.name === "AbortError") return;
        panel.append(errorBox(err));
        return;
      }
      if (!terminal(last)) await new Promise((r) => setTimeout(r, 1000));
    }
    if (terminal(last)) onEnd?.(last);
  })();
  return () => controller.abort();
}
