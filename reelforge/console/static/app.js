// The console's shell: sign-in with an API key (kept in sessionStorage only), the page router
// (#/<page>), the navigation and the signed-in key's badge.

import { api, ApiError, forgetKey, saveKey, savedKey } from "./api.js";
import { clear, errorBox, field, h } from "./ui.js";
import { PAGES } from "./pages/index.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const toggle = document.querySelector(".menu-toggle");

export const state = { session: null, cleanup: [] };

/** Re-read the session (balance, admin flag); pages call it after a debit or a grant. */
export async function refreshSession() {
  state.session = await api("/api/console/session");
  drawWho();
  return state.session;
}

function drawWho() {
  const s = state.session;
  if (!s) {
    who.hidden = true;
    return;
  }
  who.hidden = false;
  clear(
    who,
    h("span", { class: "key-name", title: s.keyId }, `${s.name}${s.admin ? " · admin" : ""}`),
    h("span", { class: "balance", id: "balance", "aria-label": "credits" }, `${s.balance} credits`),
    h("button", { type: "button", class: "small", onclick: signOut }, "Sign out"),
  );
}

function drawNav(current) {
  nav.hidden = !state.session;
  toggle.hidden = !state.session;
  const links = PAGES.filter((page) => !page.admin || state.session?.admin).map((page) =>
    h(
      "a",
      { href: `#/${page.path}`, "aria-current": page.path === current ? "page" : false, "data-page": page.path },
      page.title,
    ),
  );
  clear(nav, links, h("a", { href: "/docs", class: "ext" }, "API docs"));
}

function signOut() {
  forgetKey();
  state.session = null;
  location.hash = "#/";
  route();
}

function signInPage(error) {
  const input = h("input", {
    type: "password",
    name: "key",
    autocomplete: "off",
    required: true,
    placeholder: "rf_…",
    spellcheck: "false",
  });
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to reelforge"),
    h(
      "p",
      {},
      "Paste an API key. `reelforge serve` prints its dev key (an admin key) at start; make more with ",
      h("code", {}, "reelforge keys create"),
      ". The key stays in this tab only (sessionStorage) and is sent to this server alone.",
    ),
    field("API key", input),
    error ? errorBox(error) : null,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    saveKey(input.value.trim());
    try {
      await refreshSession();
    } catch (err) {
      forgetKey();
      clear(main, signInPage(err));
      main.querySelector("input").focus();
      return;
    }
    if (!location.hash || location.hash === "#/") location.hash = "#/overview";  // hashchange routes
    else route();
  });
  return form;
}

async function route() {
  for (const stop of state.cleanup.splice(0)) stop();
  const path = location.hash.replace(/^#\/?/, "").split("?")[0] || "";
  if (!savedKey()) {
    state.session = null;
    drawWho();
    drawNav(null);
    clear(main, signInPage());
    main.querySelector("input")?.focus();
    return;
  }
  if (!state.session) {
    try {
      await refreshSession();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) forgetKey();
      state.session = null;
      drawNav(null);
      clear(main, signInPage(err));
      return;
    }
  }
  const visible = PAGES.filter((page) => !page.admin || state.session.admin);
  const page = visible.find((p) => p.path === path) ?? visible[0];
  drawNav(page.path);
  document.title = `${page.title} · reelforge console`;
  nav.classList.remove("open");
  toggle.setAttribute("aria-expanded", "false");
  const view = h("section", { class: "page", "data-page": page.path, "aria-labelledby": "page-title" });
  clear(main, view);
  try {
    await page.render(view, { state, refreshSession, onLeave: (stop) => state.cleanup.push(stop) });
  } catch (err) {
    view.append(errorBox(err));
  }
}

toggle.addEventListener("click", () => {
  const open = nav.classList.toggle("open");
  toggle.setAttribute("aria-expanded", String(open));
});
window.addEventListener("hashchange", route);
route();
