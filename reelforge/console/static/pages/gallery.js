// Gallery: finished videos, playable in the page, with thumbnail, inputs, size/fps/duration, download
// and expiry (an expired output says so and has no link, as the API answers).

import { api } from "../api.js";
import { clear, empty, errorBox, h, timeTag, when } from "../ui.js";

const LIMIT = 12;

export default {
  path: "gallery",
  title: "Gallery",
  async render(view) {
    const grid = h("div", { class: "gallery" });
    const pager = h("div", { class: "pager" });
    view.append(h("h1", { id: "page-title" }, "Gallery"), grid, pager);
    let offset = 0;
    async function load() {
      let page;
      try {
        page = await api(`/api/console/tasks?status=succeeded&withOutput=true&limit=${LIMIT}&offset=${offset}`);
      } catch (err) {
        clear(grid, errorBox(err));
        return;
      }
      if (!page.tasks.length) {
        clear(grid, empty("No videos yet", "Finished videos appear here. Generate one in the playground.",
          h("a", { href: "#/playground" }, "Open the playground")));
        clear(pager);
        return;
      }
      clear(grid, page.tasks.map(card));
      const last = offset + page.tasks.length;
      clear(pager, h("span", { class: "muted" }, `${offset + 1}–${last} of ${page.total}`),
        h("button", { type: "button", class: "small", disabled: offset === 0, onclick: () => { offset -= LIMIT; load(); } }, "Newer"),
        h("button", { type: "button", class: "small", disabled: last >= page.total, onclick: () => { offset += LIMIT; load(); } }, "Older"));
    }
    load();
  },
};

function card(task) {
  const out = task.output;
  const prompt = task.request.prompt ?? (task.request.prompts ?? []).join(" / ");
  const media = task.expired || !out.videoUrl
    ? h("div", { class: "error", role: "note" }, h("strong", { class: "code" }, task.error?.code ?? "OUTPUT_EXPIRED"),
        h("p", {}, task.error?.message ?? "The output expired and its files were deleted."))
    : h("video", { controls: true, preload: "metadata", src: out.videoUrl, poster: out.thumbnailUrl ?? undefined,
        "data-task": task.id, "aria-label": `video ${task.id}`, playsinline: true });
  return h("article", { class: "card", "data-task": task.id },
    media,
    h("h2", {}, prompt ? prompt.slice(0, 80) : task.model),
    h("dl", { class: "kv" },
      h("dt", {}, "model"), h("dd", {}, `${task.model} (${task.dialect})`),
      h("dt", {}, "size"), h("dd", {}, `${out.width}×${out.height}`),
      h("dt", {}, "fps"), h("dd", {}, String(out.fps)),
      h("dt", {}, "duration"), h("dd", {}, `${Number(out.duration).toFixed(2)} s`),
      h("dt", {}, "created"), h("dd", {}, timeTag(task.createdAt)),
      h("dt", {}, "expires"), h("dd", { class: task.expired ? "neg" : "" },
        task.expiresAt ? `${task.expired ? "expired " : ""}${when(task.expiresAt)}` : "never")),
    h("details", {}, h("summary", {}, "Inputs"), h("pre", {}, JSON.stringify(task.input, null, 2))),
    out.videoUrl && !task.expired
      ? h("p", { class: "actions" },
          h("a", { href: out.videoUrl, download: `${task.id}.mp4`, "data-action": "download" }, "Download MP4"),
          out.thumbnailUrl ? h("a", { href: out.thumbnailUrl, target: "_blank", rel: "noopener" }, "Thumbnail") : null)
      : null,
  );
}
