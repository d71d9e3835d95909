// Small DOM helpers: elements built with textContent (never innerHTML of server data), errors, toasts.

/** h("button", {class: "primary", onclick}, "Save") -> element. Attributes starting with "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** An API error as the user should see it: the code, the message, and the field when there is one. */
export function errorBox(err) {
  const code = err.code ?? "ERROR";
  return h(
    "div",
    { class: "error", role: "alert" },
    h("strong", { class: "code" }, code),
    err.status ? h("span", { class: "status" }, ` HTTP ${err.status}`) : null,
    h("p", {}, err.message ?? String(err)),
    err.field ? h("p", { class: "muted" }, `field: ${err.field}`) : null,
  );
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast ${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}

export function copyButton(text, label = "Copy") {
  const button = h("button", { type: "button", class: "small", "aria-label": `${label} to clipboard` }, label);
  button.addEventListener("click", async () => {
    const value = typeof text === "function" ? text() : text;
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // clipboard API unavailable (plain http on another host): select a hidden field instead
      const field = h("textarea", { class: "offscreen" }, value);
      document.body.append(field);
      field.select();
      document.execCommand("copy");
      field.remove();
    }
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = label), 1500);
  });
  return button;
}

/** A secret shown once: the value, a copy button and the warning that it will not be shown again. */
export function secretBox(title, secret) {
  return h(
    "div",
    { class: "secret", role: "status" },
    h("strong", {}, title),
    h("code", { class: "secret-value", tabindex: "0" }, secret),
    copyButton(secret),
    h("p", { class: "muted" }, "Shown only now: reelforge keeps only a hash. Copy it somewhere safe."),
  );
}

export function empty(title, text, ...actions) {
  return h("div", { class: "empty" }, h("h3", {}, title), h("p", {}, text), actions.length ? h("p", {}, actions) : null);
}

export function when(value) {
  if (!value) return "—";
  const date = new Date(value);
  return isNaN(date) ? String(value) : date.toLocaleString();
}

export function timeTag(value) {
  return value ? h("time", { datetime: value, title: value }, when(value)) : "—";
}

export function badge(status) {
  return h("span", { class: `badge ${status}` }, status);
}

export function progressBar(value, label) {
  return h("progress", { max: "100", value: String(value ?? 0), "aria-label": label ?? "progress" }, `${value ?? 0}%`);
}

/** A table of rows: columns are [header, row => cell]. */
export function table(columns, rows, { caption } = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map(([name]) => h("th", { scope: "col" }, name)))),
      h(
        "tbody",
        {},
        rows.map((row) => h("tr", {}, columns.map(([name, cell]) => h("td", { "data-label": name }, cell(row))))),
      ),
    ),
  );
}

export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("small", { class: "muted", id: `${id}-hint` }, hint) : null,
  );
}

export function signedAmount(value) {
  return h("span", { class: value < 0 ? "neg" : "pos" }, value > 0 ? `+${value}` : String(value));
}
