// Webhooks: the deliveries of the key's tasks with status code, attempts and next retry; redeliver one.

import { api } from "../api.js";
import { badge, clear, empty, errorBox, h, table, timeTag, toast } from "../ui.js";

export default {
  path: "webhooks",
  title: "Webhooks",
  async render(view) {
    const list = h("div");
    view.append(h("h1", { id: "page-title" }, "Webhook deliveries"),
      h("p", { class: "muted" }, "Each task created with a webhook URL gets signed deliveries; failures are retried with backoff."),
      list);
    async function redeliver(d) {
      try {
        await api(`/api/console/deliveries/${d.id}/redeliver`, { method: "POST" });
        toast(`Redelivery of ${d.id} queued`);
        load();
      } catch (err) {
        toast(`${err.code}: ${err.message}`, "error");
      }
    }
    async function load() {
      try {
        const page = await api("/api/console/deliveries?limit=100");
        if (!page.deliveries.length) {
          clear(list, empty("No deliveries yet",
            "Send a webhook URL with a create (the `webhookUrl` header on /api/v1/generate, `webhook` on AVS) and each status change is delivered here."));
          return;
        }
        clear(list, table([
          ["Created", (d) => timeTag(d.createdAt)],
          ["Task", (d) => h("code", {}, d.taskId)],
          ["Event", (d) => d.eventType],
          ["URL", (d) => d.url],
          ["State", (d) => badge(d.state)],
          ["Status code", (d) => (d.statusCode === null ? (d.lastError ?? "—") : String(d.statusCode))],
          ["Attempts", (d) => String(d.attempts)],
          ["Next retry", (d) => timeTag(d.nextAttemptAt)],
          ["", (d) => h("button", { type: "button", class: "small", "data-action": "redeliver", onclick: () => redeliver(d) }, "Redeliver")],
        ], page.deliveries));
      } catch (err) {
        clear(list, errorBox(err));
      }
    }
    load();
  },
};
