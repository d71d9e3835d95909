// Playground: pick a model, fill the form generated from its create route's body schema, see the price
// (POST /api/console/price: the catalog's own pricing), the same request for other clients, submit, watch.

import { api } from "../api.js";
import { schemaForm } from "../form.js";
import * as snippets from "../snippets.js";
import { clear, copyButton, errorBox, field, h } from "../ui.js";
import { watch } from "../watch.js";

const TOKEN_STORE = "reelforge.avsToken";
const TABS = [
  ["curl", "curl"],
  ["python", "Python SDK"],
  ["openai", "openai SDK"],
  ["mcp", "MCP tool call"],
];

function priceQuery(model, body) {
  const query = { model: model.name, assets: {} };
  let duration = body.duration ?? body.options?.duration ?? body.seconds;
  if (body.num_frames) duration = (body.num_frames - 1) / (body.frame_rate ?? model.fps);
  if (duration !== undefined && duration !== "" && !isNaN(Number(duration))) query.duration = Number(duration);
  if (Array.isArray(body.prompt)) query.prompts = Math.max(1, body.prompt.length);
  const list = (v) => (Array.isArray(v) ? v.length : v ? 1 : 0);
  const images = list(body.image) + list(body.imageInput) + list(body.extra_body?.image);
  if (images) query.assets.image = images;
  if (body.videoInput?.length) query.assets.video = body.videoInput.length;
  if (body.template && typeof body.template === "object") query.template = body.template;
  return query;
}

export default {
  path: "playground",
  title: "Playground",
  async render(view, { refreshSession, onLeave }) {
    const { models } = await api("/api/console/models");
    view.append(h("h1", { id: "page-title" }, "Playground"));
    if (!models.length) {
      view.append(h("div", { class: "empty" }, "This server's catalog has no models: add one to models.toml."));
      return;
    }
    const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
    const picker = h("select", { id: "model", name: "model" },
      models.map((m) => h("option", { value: m.name, selected: m.name === (params.get("model") ?? "t2v") }, `${m.name} — ${m.kind}`)));
    const about = h("div", { class: "muted about" });
    const formBox = h("div");
    const tokenBox = h("div");
    const price = h("p", { class: "price", id: "price", "aria-live": "polite" });
    const errors = h("div");
    const submit = h("button", { type: "submit", class: "primary", id: "submit" }, "Generate");
    const form = h("form", { class: "card", id: "playground-form", novalidate: true },
      field("Model", picker), about, formBox, tokenBox, price, errors, submit);
    const tabBar = h("div", { class: "tabs", role: "tablist" });
    const code = h("pre", { id: "snippet", tabindex: "0" });
    const codeCard = h("div", { class: "card" }, h("h2", {}, "The same request"), tabBar, code,
      h("p", {}, copyButton(() => code.textContent, "Copy")));
    const watchPanel = h("div", { class: "card", id: "watch", hidden: true });
    view.append(h("div", { class: "split" }, form, h("div", {}, codeCard, watchPanel)));

    let current = null;
    let built = null;
    let tab = "curl";
    let tokenInput = null;
    let priceTimer = null;
    let stopWatch = null;
    onLeave(() => stopWatch?.());

    const body = () => ({ ...built.read(), ...current.create.fixed });
    const drawTabs = () =>
      clear(tabBar, TABS.map(([id, name]) =>
        h("button", { type: "button", role: "tab", "aria-selected": String(id === tab), "data-tab": id,
          onclick: () => { tab = id; update(); } }, name)));

    function update() {
      drawTabs();
      let sent;
      try {
        sent = body();
      } catch (err) {
        clear(errors, errorBox(err));
        return;
      }
      clear(errors);
      const origin = location.origin;
      code.textContent =
        tab === "curl" ? snippets.curl(origin, current, sent)
        : tab === "python" ? snippets.python(origin, current, sent)
        : tab === "openai" ? snippets.openai(origin, current, sent)
        : snippets.mcp(current, sent);
      clearTimeout(priceTimer);
      priceTimer = setTimeout(async () => {
        try {
          const quote = await api("/api/console/price", { method: "POST", body: priceQuery(current, sent) });
          clear(price, `Price: ${quote.credits} credits`, h("small", { class: "muted" }, ` (${quote.formula})`));
          price.dataset.credits = String(quote.credits);
        } catch (err) {
          clear(price, h("small", { class: "muted" }, `Price: ${err.code} — ${err.message}`));
          delete price.dataset.credits;
        }
      }, 150);
    }

    function choose(name) {
      current = models.find((m) => m.name === name);
      const rules = [
        current.durations.length ? `durations ${current.durations.join(", ")} s` : null,
        current.aspectRatios.length ? `aspect ratios ${current.aspectRatios.join(", ")}` : null,
        `${current.creditsPerSecond} credits/s`,
        current.creditsPerJob ? `${current.creditsPerJob} per job` : null,
      ].filter(Boolean);
      clear(about, h("p", {}, current.description), h("p", {}, `${current.create.method} `,
        h("code", {}, current.create.path), ` · ${current.engine} engine · ${rules.join(" · ")}`));
      built = schemaForm(current.create.bodySchema, update);
      clear(formBox, built.nodes);
      tokenInput = null;
      clear(tokenBox);
      if (current.create.auth === "avs_token") {
        tokenInput = h("input", { type: "password", id: "avs-token", autocomplete: "off", placeholder: "avs.…",
          value: sessionStorage.getItem(TOKEN_STORE) ?? "" });
        tokenBox.append(field("AVS token *", tokenInput,
          "This API takes an AVS public_api token: create one on the Tokens page (it is remembered for this tab)."));
      }
      update();
    }
    picker.addEventListener("change", () => choose(picker.value));
    choose(picker.value);

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clear(errors);
      let sent;
      try {
        sent = body();
      } catch (err) {
        errors.append(errorBox(err));
        return;
      }
      submit.disabled = true;
      try {
        const key = tokenInput ? tokenInput.value.trim() : undefined;
        const answer = await api(current.create.path, { method: current.create.method, body: sent, ...(key ? { key } : {}) });
        const taskId = answer.taskId ?? answer.jobId ?? answer.id;
        watchPanel.hidden = false;
        clear(watchPanel, h("h2", {}, "Your task"));
        const panel = h("div");
        watchPanel.append(panel);
        stopWatch?.();
        stopWatch = watch(taskId, panel, { onEnd: () => refreshSession() });
        refreshSession();
      } catch (err) {
        errors.append(errorBox(err));
      } finally {
        submit.disabled = false;
      }
    });
  },
};
