// Credits: the balance and the ledger (grants, debits, refunds), each row with the task it belongs to.

import { api } from "../api.js";
import { badge, clear, empty, errorBox, h, signedAmount, table, timeTag } from "../ui.js";

const LIMIT = 50;

export default {
  path: "credits",
  title: "Credits",
  async render(view, { refreshSession }) {
    const balance = h("p", { class: "big", id: "ledger-balance" });
    const list = h("div", { id: "ledger" });
    const pager = h("div", { class: "pager" });
    view.append(h("h1", { id: "page-title" }, "Credits"),
      h("div", { class: "card" }, h("h2", {}, "Balance"), balance,
        h("p", { class: "muted" }, "The balance is the sum of the ledger. A task is debited when created and refunded once if it fails or is cancelled.")),
      h("div", { class: "card" }, h("h2", {}, "Ledger"), list, pager));
    let offset = 0;
    async function load() {
      try {
        const page = await api(`/api/console/ledger?limit=${LIMIT}&offset=${offset}`);
        balance.textContent = `${page.balance} credits`;
        refreshSession?.();
        if (!page.rows.length) {
          clear(list, empty("No ledger rows", "Credits granted to this key and every debit and refund show here."));
          return;
        }
        clear(list, table([
          ["When", (r) => timeTag(r.createdAt)],
          ["Amount", (r) => signedAmount(r.amount)],
          ["Reason", (r) => h("span", { "data-reason": r.reason, "data-task": r.taskId ?? "" }, r.reason)],
          ["Task", (r) => r.taskId ? h("span", {}, h("code", {}, r.taskId), ` ${r.taskModel ?? ""} `, r.taskStatus ? badge(r.taskStatus) : null) : "—"],
          ["Note", (r) => r.note ?? ""],
        ], page.rows));
        const last = offset + page.rows.length;
        clear(pager, h("span", { class: "muted" }, `${offset + 1}–${last} of ${page.total}`),
          h("button", { type: "button", class: "small", disabled: offset === 0, onclick: () => { offset -= LIMIT; load(); } }, "Newer"),
          h("button", { type: "button", class: "small", disabled: last >= page.total, onclick: () => { offset += LIMIT; load(); } }, "Older"));
      } catch (err) {
        clear(list, errorBox(err));
      }
    }
    load();
  },
};
