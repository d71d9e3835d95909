// API tokens, the AVS lifecycle over /api/v1/tokens: create (secret shown once, copy), list, rotate, revoke.

import { api } from "../api.js";
import { badge, clear, empty, errorBox, field, h, secretBox, table, timeTag, toast } from "../ui.js";

const TOKEN_STORE = "reelforge.avsToken";

export default {
  path: "tokens",
  title: "Tokens",
  async render(view) {
    const name = h("input", { id: "token-name", name: "name", value: "default", maxlength: "200", required: true });
    const kind = h("select", { id: "token-kind", name: "kind" }, h("option", { value: "public_api" }, "public_api (AVS video API)"),
      h("option", { value: "cli" }, "cli"));
    const shown = h("div", { id: "token-secret" });
    const list = h("div");
    const form = h("form", { class: "card" }, h("h2", {}, "Create a token"),
      h("p", { class: "muted" }, "AVS tokens (avs.<id>.<secret>) call the AVS video API for this account: same credits, same tasks."),
      h("div", { class: "row" }, field("Name", name), field("Kind", kind)),
      h("button", { type: "submit", class: "primary" }, "Create token"), shown);
    view.append(h("h1", { id: "page-title" }, "API tokens"), form, h("div", { class: "card" }, h("h2", {}, "Tokens"), list));

    const remember = (issued) => issued.kind === "public_api" && sessionStorage.setItem(TOKEN_STORE, issued.token);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const issued = await api("/api/v1/tokens", { method: "POST", body: { name: name.value.trim(), kind: kind.value } });
        remember(issued);
        clear(shown, secretBox(`Token ${issued.tokenId} created`, issued.token));
        load();
      } catch (err) {
        clear(shown, errorBox(err));
      }
    });

    async function act(token, verb) {
      if (verb === "revoke" && !confirm(`Revoke token ${token.name} (${token.tokenId})? It stops working at once.`)) return;
      try {
        if (verb === "rotate") {
          const issued = await api(`/api/v1/tokens/${token.tokenId}/rotate`, { method: "POST" });
          remember(issued);
          clear(shown, secretBox(`Token ${issued.tokenId} rotated: the old secret no longer works`, issued.token));
        } else {
          await api(`/api/v1/tokens/${token.tokenId}`, { method: "DELETE" });
          toast(`Revoked ${token.tokenId}`);
        }
        load();
      } catch (err) {
        clear(shown, errorBox(err));
      }
    }

    async function load() {
      try {
        const { tokens } = await api("/api/v1/tokens");
        if (!tokens.length) {
          clear(list, empty("No tokens", "Create one above to call the AVS video API (/api/v1/videos/...)."));
          return;
        }
        clear(list, table([
          ["Name", (t) => t.name],
          ["Id", (t) => h("code", {}, t.tokenId)],
          ["Kind", (t) => t.kind],
          ["State", (t) => badge(t.active ? "active" : "revoked")],
          ["Created", (t) => timeTag(t.createdAt)],
          ["Rotated", (t) => timeTag(t.rotatedAt)],
          ["", (t) => t.active ? h("div", { class: "actions" },
            h("button", { type: "button", class: "small", "data-action": "rotate", "data-token": t.tokenId, onclick: () => act(t, "rotate") }, "Rotate"),
            h("button", { type: "button", class: "small danger", "data-action": "revoke", "data-token": t.tokenId, onclick: () => act(t, "revoke") }, "Revoke"))
            : timeTag(t.revokedAt)],
        ], [...tokens].reverse()));
      } catch (err) {
        clear(list, errorBox(err));
      }
    }
    load();
  },
};
