// Operators (admin keys): every key (create with the secret shown once, revoke, grant credits), the queue
// per model and per key with the workers' leases, and every key's tasks with cancel.

import { api } from "../api.js";
import { badge, clear, empty, errorBox, field, h, secretBox, table, timeTag, toast } from "../ui.js";
import { jobsView } from "./jobs.js";

export default {
  path: "admin",
  title: "Admin",
  admin: true,
  async render(view, ctx) {
    const name = h("input", { id: "new-key-name", name: "name", value: "", placeholder: "team-a", required: true });
    const credits = h("input", { id: "new-key-credits", name: "credits", type: "number", min: "0", value: "100" });
    const isAdmin = h("input", { id: "new-key-admin", name: "admin", type: "checkbox" });
    const shown = h("div", { id: "new-key-secret" });
    const keys = h("div", { id: "admin-keys" });
    const queue = h("div", { id: "admin-queue" });
    const create = h("form", { class: "card" }, h("h2", {}, "Create an API key"),
      h("div", { class: "row" }, field("Name", name), field("Credits", credits), field("Admin", isAdmin)),
      h("button", { type: "submit", class: "primary" }, "Create key"), shown);
    view.append(h("h1", { id: "page-title" }, "Admin"), create,
      h("div", { class: "card" }, h("h2", {}, "API keys"), keys),
      h("div", { class: "card" }, h("h2", {}, "Queue"), queue));
    const tasks = h("div", { class: "card" });
    view.append(tasks);
    jobsView(tasks, { ...ctx, scope: "all", title: "Every key's tasks", headingId: "all-tasks" });

    create.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const made = await api("/api/console/admin/keys", { method: "POST",
          body: { name: name.value.trim() || "default", credits: Number(credits.value || 0), admin: isAdmin.checked } });
        clear(shown, secretBox(`Key ${made.id} (${made.name}) created`, made.key));
        loadKeys();
      } catch (err) {
        clear(shown, errorBox(err));
      }
    });

    async function grant(key, input, note) {
      try {
        const answer = await api(`/api/console/admin/keys/${key.id}/credits`, { method: "POST",
          body: { amount: Number(input.value), ...(note.value.trim() ? { note: note.value.trim() } : {}) } });
        toast(`${key.name}: ${answer.amount > 0 ? "+" : ""}${answer.amount} credits, balance ${answer.balance}`);
        loadKeys();
        ctx.refreshSession();
      } catch (err) {
        toast(`${err.code}: ${err.message}`, "error");
      }
    }

    async function revoke(key) {
      if (!confirm(`Revoke ${key.name} (${key.id})? It stops working at once.`)) return;
      try {
        await api(`/api/console/admin/keys/${key.id}/revoke`, { method: "POST" });
        toast(`Revoked ${key.id}`);
        loadKeys();
      } catch (err) {
        toast(`${err.code}: ${err.message}`, "error");
      }
    }

    async function loadKeys() {
      try {
        const answer = await api("/api/console/admin/keys");
        clear(keys, table([
          ["Name", (k) => `${k.name}${k.admin ? " (admin)" : ""}`],
          ["Id", (k) => h("code", {}, k.id)],
          ["Prefix", (k) => h("code", {}, `${k.prefix}…`)],
          ["State", (k) => badge(k.active ? "active" : "revoked")],
          ["Balance", (k) => h("span", { "data-balance": k.id }, String(k.balance))],
          ["Created", (k) => timeTag(k.createdAt)],
          ["", (k) => {
            if (!k.active) return timeTag(k.revokedAt);
            const amount = h("input", { type: "number", value: "50", "aria-label": `credits for ${k.name}`, "data-grant": k.id, style: "width:6rem" });
            const note = h("input", { type: "text", placeholder: "note", "aria-label": `note for ${k.name}`, style: "width:8rem" });
            return h("div", { class: "actions" }, amount, note,
              h("button", { type: "button", class: "small", "data-action": "grant", "data-key": k.id, onclick: () => grant(k, amount, note) }, "Grant"),
              k.id === ctx.state.session.keyId ? null
                : h("button", { type: "button", class: "small danger", "data-action": "revoke", "data-key": k.id, onclick: () => revoke(k) }, "Revoke"));
          }],
        ], answer.keys));
      } catch (err) {
        clear(keys, errorBox(err));
      }
    }

    let timer = null;
    let stopped = false;
    ctx.onLeave(() => { stopped = true; clearTimeout(timer); });
    async function loadQueue() {
      try {
        const q = await api("/api/console/admin/queue");
        if (stopped) return;
        clear(queue,
          h("p", { class: "muted" }, `executor: ${q.executor} · oldest waiting since `, timeTag(q.oldestWaitingSince)),
          h("h3", {}, "Per model"),
          q.byModel.length ? table([["Model", (r) => r.model], ["Waiting", (r) => String(r.queued)], ["Running", (r) => String(r.running)]], q.byModel)
            : empty("The queue is empty", "Nothing is waiting or running."),
          h("h3", {}, "Per key"),
          q.byKey.length ? table([["Key", (r) => `${r.name} (${r.keyId})`], ["Waiting", (r) => String(r.queued)], ["Running", (r) => String(r.running)]], q.byKey) : h("p", { class: "muted" }, "—"),
          h("h3", {}, "Workers and leases"),
          q.leases.length ? table([
            ["Worker", (l) => l.worker ?? "?"], ["Task", (l) => h("code", {}, l.taskId)], ["Model", (l) => l.model],
            ["Key", (l) => h("code", {}, l.keyId)], ["Progress", (l) => `${l.progress}% ${l.phase ?? ""}`],
            ["Lease until", (l) => timeTag(l.leaseExpiresAt)], ["Attempts", (l) => String(l.attempts)],
          ], q.leases) : h("p", { class: "muted" }, "No worker holds a lease now (idle workers hold none)."),
        );
      } catch (err) {
        clear(queue, errorBox(err));
      }
      if (!stopped) timer = setTimeout(loadQueue, 2000);
    }
    loadKeys();
    loadQueue();
  },
};
