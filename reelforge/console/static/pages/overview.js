// The landing page once signed in: the key, its balance, and where to go next.

import { h } from "../ui.js";

export default {
  path: "overview",
  title: "Overview",
  async render(view, { state }) {
    const s = state.session;
    view.append(
      h("h1", { id: "page-title" }, "Overview"),
      h(
        "div",
        { class: "cards" },
        h(
          "div",
          { class: "card" },
          h("h2", {}, "Your key"),
          h("dl", {}, h("dt", {}, "name"), h("dd", {}, s.name), h("dt", {}, "id"), h("dd", {}, h("code", {}, s.keyId)),
            h("dt", {}, "prefix"), h("dd", {}, h("code", {}, `${s.prefix}…`)), h("dt", {}, "role"),
            h("dd", {}, s.admin ? "admin (operator)" : "account holder")),
        ),
        h(
          "div",
          { class: "card" },
          h("h2", {}, "Credits"),
          h("p", { class: "big" }, String(s.balance)),
          h("p", { class: "muted" }, "Each task is priced before it is created and refunded if it fails or is cancelled."),
        ),
        h(
          "div",
          { class: "card" },
          h("h2", {}, "API"),
          h("p", {}, "Every page here uses the documented HTTP API:"),
          h("p", {}, h("a", { href: "/docs" }, "Swagger UI"), " · ", h("a", { href: "/redoc" }, "ReDoc"), " · ",
            h("a", { href: "/openapi.json" }, "openapi.json")),
          h("p", { class: "muted" }, `reelforge ${s.version}`),
        ),
      ),
    );
  },
};
