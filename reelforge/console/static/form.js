// Forms generated from a request body's JSON Schema (the dialect's own pydantic model, as
// /api/console/models serves it): one control per property, nested objects as fieldsets.

import { field, h } from "./ui.js";

const SKIPPED = new Set(["webhook", "timeoutMs", "workspaceId", "provider", "num_inference_steps"]);
const LIST_FIELDS = new Set(["imageInput", "videoInput", "assetUrls"]);
const IMAGE_FIELDS = new Set(["image", "imageInput", "input_reference"]);

/** The non-null alternative of an `anyOf: [X, {type: null}]`, and whether null was allowed. */
function unwrap(schema) {
  if (schema?.anyOf) {
    const options = schema.anyOf.filter((s) => s.type !== "null");
    const nullable = options.length < schema.anyOf.length;
    const list = options.find((s) => s.type === "array");
    if (list) return { ...schema, ...list, anyOf: undefined, nullable };  // "one or many": offer many
    const first = options.find((s) => s.type !== "string") ?? options[0];
    if (options.length === 1 || options.every((o) => ["string", "integer"].includes(o.type)))
      return { ...schema, ...(options.length === 1 ? options[0] : { type: first.type }), anyOf: undefined, nullable };
    return { ...schema, ...options[0], anyOf: undefined, nullable };
  }
  return { ...schema, nullable: false };
}

function label(name, schema, required) {
  return `${schema.title && schema.title.toLowerCase() !== name.toLowerCase() ? schema.title : name}${required ? " *" : ""}`;
}

function fileToDataUri(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/**
 * Build controls for `schema` under `path`. Returns {node, read} where read() gives the value (undefined
 * when left empty). `onChange` is called on every edit.
 */
function control(name, raw, required, onChange, path) {
  const schema = unwrap(raw);
  const hint = schema.description;
  const id = `f-${path.replace(/[^a-z0-9]+/gi, "-")}`;
  if (schema.enum) {
    const select = h(
      "select",
      { id, name: path },
      required ? null : h("option", { value: "" }, "(default)"),
      schema.enum.map((value) =>
        h("option", { value: JSON.stringify(value), selected: value === schema.default }, String(value)),
      ),
    );
    select.addEventListener("change", onChange);
    return { node: field(label(name, schema, required), select, hint), read: () => (select.value ? JSON.parse(select.value) : undefined) };
  }
  if (schema.type === "object" && schema.properties) {
    const inner = objectControls(schema, onChange, path);
    return { node: h("fieldset", {}, h("legend", {}, name), inner.nodes), read: inner.read };
  }
  if (schema.type === "object" || (name === "template" && !schema.type)) {
    const area = h("textarea", { id, name: path, rows: "8", spellcheck: "false", placeholder: '{"…": "…"}' });
    area.addEventListener("input", onChange);
    return {
      node: field(label(name, schema, required), area, hint ?? "JSON"),
      read: () => {
        if (!area.value.trim()) return undefined;
        try {
          return JSON.parse(area.value);
        } catch (err) {
          throw Object.assign(new Error(`${path}: not valid JSON (${err.message})`), { code: "INVALID_JSON", field: path });
        }
      },
      set: (value) => (area.value = JSON.stringify(value, null, 2)),
    };
  }
  if (schema.type === "array" || LIST_FIELDS.has(name)) {
    const area = h("textarea", { id, name: path, rows: "3", placeholder: "one per line" });
    area.addEventListener("input", onChange);
    const extras = [];
    const wrap = field(label(name, schema, required), area, `${hint ? `${hint}. ` : ""}One per line${schema.maxItems ? ` (at most ${schema.maxItems})` : ""}.`);
    if (IMAGE_FIELDS.has(name)) wrap.append(filePicker(extras, onChange, true));
    return {
      node: wrap,
      read: () => {
        const lines = area.value.split("\n").map((s) => s.trim()).filter(Boolean).concat(extras);
        return lines.length ? lines : undefined;
      },
    };
  }
  if (schema.type === "integer" || schema.type === "number") {
    const input = h("input", {
      id,
      name: path,
      type: "number",
      step: schema.type === "integer" ? "1" : "any",
      min: schema.minimum ?? schema.exclusiveMinimum,
      max: schema.maximum,
      value: schema.default ?? "",
    });
    input.addEventListener("input", onChange);
    return { node: field(label(name, schema, required), input, hint), read: () => (input.value === "" ? undefined : Number(input.value)) };
  }
  if (schema.type === "boolean") {
    const box = h("input", { id, name: path, type: "checkbox", checked: schema.default === true });
    box.addEventListener("change", onChange);
    return { node: field(label(name, schema, required), box, hint), read: () => box.checked };
  }
  const long = name === "prompt";
  const input = long
    ? h("textarea", { id, name: path, rows: "3", maxlength: schema.maxLength })
    : h("input", { id, name: path, type: "text", maxlength: schema.maxLength, value: schema.default ?? "" });
  input.addEventListener("input", onChange);
  const wrap = field(label(name, schema, required), input, hint);
  const extras = [];
  if (IMAGE_FIELDS.has(name)) wrap.append(filePicker(extras, onChange, false, input));
  return { node: wrap, read: () => input.value.trim() || extras[0] || undefined };
}

/** An <input type=file> that turns the chosen images into data URIs (sent in the JSON body). */
function filePicker(extras, onChange, multiple, target) {
  const picker = h("input", { type: "file", accept: "image/*", multiple, "aria-label": "upload an image" });
  const note = h("small", { class: "muted" });
  picker.addEventListener("change", async () => {
    extras.length = 0;
    for (const file of picker.files) extras.push(await fileToDataUri(file));
    if (target) target.value = "";
    note.textContent = extras.length ? `${extras.length} file(s) attached as data URIs` : "";
    onChange();
  });
  return h("div", { class: "row" }, h("span", { class: "muted" }, "or upload:"), picker, note);
}

function objectControls(schema, onChange, prefix = "") {
  const required = new Set(schema.required ?? []);
  const parts = [];
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    if (SKIPPED.has(name)) continue;
    parts.push([name, control(name, prop, required.has(name), onChange, prefix ? `${prefix}.${name}` : name)]);
  }
  return {
    nodes: parts.map(([, c]) => c.node),
    controls: Object.fromEntries(parts.map(([name, c]) => [name, c])),
    read: () => {
      const out = {};
      for (const [name, c] of parts) {
        const value = c.read();
        if (value !== undefined && !(typeof value === "object" && !Array.isArray(value) && !Object.keys(value).length))
          out[name] = value;
      }
      return Object.keys(out).length ? out : undefined;
    },
  };
}

export function schemaForm(schema, onChange) {
  const built = objectControls(schema, onChange);
  return { nodes: built.nodes, controls: built.controls, read: () => built.read() ?? {} };
}
