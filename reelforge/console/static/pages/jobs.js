// Jobs: the key's tasks from every dialect, newest first; filters by status and model, paging, live
// progress (polled while any shown task is still running), cancel and re-run.

import { api } from "../api.js";
import { badge, clear, empty, errorBox, field, h, progressBar, table, timeTag, toast } from "../ui.js";

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];
const LIMIT = 20;
const POLL_MS = 1000;

export function jobsView(view, { refreshSession, onLeave, scope = "own", title = "Jobs", headingId = "page-title" }) {
  const status = h("select", { id: `${scope}-status`, name: "status" }, h("option", { value: "" }, "any status"),
    STATUSES.map((s) => h("option", { value: s }, s)));
  const model = h("select", { id: `${scope}-model`, name: "model" }, h("option", { value: "" }, "any model"));
  const list = h("div", { class: "jobs", "aria-live": "polite" });
  const pager = h("div", { class: "pager" });
  const detail = h("div");
  let offset = 0;
  let timer = null;
  let stopped = false;
  onLeave(() => {
    stopped = true;
    clearTimeout(timer);
  });
  view.append(h("h1", { id: headingId }, title),
    h("div", { class: "filters" }, field("Status", status), field("Model", model)), list, pager, detail);
  api("/api/console/models").then(({ models }) => model.append(...models.map((m) => h("option", { value: m.name }, m.name)))).catch(() => {});
  status.addEventListener("change", () => { offset = 0; load(); });
  model.addEventListener("change", () => { offset = 0; load(); });

  async function act(path, verb, task) {
    try {
      const answer = await api(path, { method: "POST" });
      toast(`${verb}: ${answer.id}`);
      refreshSession?.();
      load();
    } catch (err) {
      toast(`${err.code}: ${err.message}`, "error");
    }
  }

  function show(task) {
    clear(detail, h("div", { class: "card", id: "task-detail" },
      h("h2", {}, "Task ", h("code", {}, task.id)),
      h("dl", { class: "kv" },
        Object.entries({ dialect: task.dialect, kind: task.kind, status: task.status, phase: task.phase,
          progress: `${task.progress}%`, cost: task.cost, attempts: task.attempts, created: task.createdAt,
          started: task.startedAt, completed: task.completedAt, expires: task.expiresAt ?? "never" })
          .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")])),
      task.error ? errorBox(task.error) : null,
      h("h3", {}, "Input"), h("pre", {}, JSON.stringify(task.input, null, 2)),
      h("h3", {}, "Request"), h("pre", {}, JSON.stringify(task.request, null, 2)),
      Object.keys(task.extra).length ? [h("h3", {}, "Extra"), h("pre", {}, JSON.stringify(task.extra, null, 2))] : null,
      Object.keys(task.details).length ? [h("h3", {}, "Details"), h("pre", {}, JSON.stringify(task.details, null, 2))] : null,
    ));
    detail.querySelector("h2").scrollIntoView?.({ block: "nearest" });
  }

  async function load() {
    clearTimeout(timer);
    const query = new URLSearchParams({ limit: String(LIMIT), offset: String(offset), scope });
    if (status.value) query.append("status", status.value);
    if (model.value) query.set("model", model.value);
    let page;
    try {
      page = await api(`/api/console/tasks?${query}`);
    } catch (err) {
      clear(list, errorBox(err));
      return;
    }
    if (stopped) return;
    if (!page.tasks.length) {
      clear(list, empty(status.value || model.value ? "No task matches" : "No tasks yet",
        status.value || model.value ? "Change the filters to see more." : "Create one in the playground; it shows here with its progress.",
        h("a", { href: "#/playground" }, "Open the playground")));
      clear(pager);
      return;
    }
    clear(list, table([
      ["Created", (t) => timeTag(t.createdAt)],
      ["Task", (t) => h("button", { type: "button", class: "small link", onclick: () => show(t), "aria-label": `details of ${t.id}` }, t.id)],
      ...(scope === "all" ? [["Key", (t) => h("code", {}, t.keyId)]] : []),
      ["Model", (t) => `${t.model} (${t.dialect})`],
      ["Status", (t) => h("span", { "data-status": t.status, "data-task": t.id }, badge(t.status))],
      ["Phase", (t) => t.phase ?? "—"],
      ["Progress", (t) => h("span", { class: "row" }, progressBar(t.progress), h("span", { class: "pct", "data-task": t.id }, `${t.progress}%`))],
      ["Cost", (t) => String(t.cost)],
      ["", (t) => h("div", { class: "actions" },
        ["queued", "running"].includes(t.status) && !t.cancelRequested
          ? h("button", { type: "button", class: "small danger", "data-action": "cancel", "data-task": t.id,
              onclick: () => act(`/api/console/tasks/${t.id}/cancel`, "Cancel requested", t) }, "Cancel")
          : null,
        scope === "own"
          ? h("button", { type: "button", class: "small", "data-action": "rerun", "data-task": t.id,
              onclick: () => act(`/api/console/tasks/${t.id}/rerun`, "Re-run created", t) }, "Re-run")
          : null)],
    ], page.tasks));
    const last = Math.min(page.total, offset + page.tasks.length);
    clear(pager, h("span", { class: "muted" }, `${offset + 1}–${last} of ${page.total}`),
      h("button", { type: "button", class: "small", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - LIMIT); load(); } }, "Newer"),
      h("button", { type: "button", class: "small", disabled: last >= page.total, onclick: () => { offset += LIMIT; load(); } }, "Older"));
    if (page.tasks.some((t) => ["queued", "running"].includes(t.status))) timer = setTimeout(load, POLL_MS);
  }
  load();
}

export default {
  path: "jobs",
  title: "Jobs",
  async render(view, ctx) {
    jobsView(view, ctx);
  },
};
