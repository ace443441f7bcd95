/**
 * The action explorer: one self-contained HTML page generated from the schemas the joined
 * consumers published. Every action gets its description, its fields and a form typed from
 * the fields' JSON Schema that calls the action through `POST /explore` and shows the answer in
 * both HTTP modes: the consumer's whole payload (`full`) beside what a caller of the Vera
 * Plugboard receives (`vera`), the board's own mode marked.
 *
 * Descriptions, names and defaults come from the consumers and are untrusted: every value goes
 * through escapeHtml into text or a quoted attribute, and the page's one script is static (it
 * reads the form's data-* attributes), so the Content-Security-Policy can pin it by hash.
 */
import { createHash } from "node:crypto";
import { isJsonObject } from "../json.ts";
import type { HttpMode } from "./vera.ts";
import type { RecentEvent } from "../domain-events/recent.ts";

/** Where the page's forms post: `POST /`'s call, answered in both modes (http-api.ts). */
export const EXPLORE_PATH = "/explore";

export interface ExplorerContext {
  /** The published `actions` object, or null when no consumer is joined. */
  actions: unknown;
  serviceName: string;
  socketUrl: string;
  joinedConsumers: number;
  httpMode: HttpMode;
  serviceId: string;
  /** The board's other services (PLUGBOARD_SERVICES): listed with their ids and actions, called through `POST /` with their service_id. */
  otherServices?: ReadonlyArray<{ id: string; name: string; joinedConsumers: number; actions: unknown }>;
  /** The latest domain events, newest first, when the service runs with this board and a database (src/domain-events/recent.ts). */
  events?: readonly RecentEvent[];
}

type FieldKind = "string" | "integer" | "number" | "boolean" | "enum" | "json";

type Schema = Record<string, unknown>;

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d232a;color:#fff;padding:1rem 2rem}header h1{margin:0 0 .3rem;font-size:1.3rem}
header p{margin:.2rem 0}header code,header a{color:#9fd3ff}main{padding:1rem 2rem;max-width:60rem}
nav a{margin-right:.8rem}section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:1rem 1.3rem;margin:1rem 0}
h2{margin:0 0 .3rem;font-size:1.15rem}.description{margin:0 0 .8rem;white-space:pre-wrap}
.field{margin:.6rem 0}label{display:block;font-weight:600}.type{font-weight:400;color:#5b6570;font-size:.85em}
.required{color:#c0392b}.hint{margin:.15rem 0 0;color:#5b6570;font-size:.9em;white-space:pre-wrap}
input,select,textarea{font:inherit;padding:.3rem .4rem;min-width:18rem;max-width:100%;box-sizing:border-box}
textarea{min-height:4rem;width:100%;font-family:ui-monospace,monospace}button{font:inherit;padding:.35rem 1rem;margin-top:.4rem}
.status,.line{font-weight:600}[data-ok=true]{color:#1e7e34}[data-ok=false]{color:#c0392b}
.modes{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
h3{margin:.3rem 0;font-size:.95rem}.line{margin:.2rem 0}.current{font-weight:400;color:#5b6570;font-size:.85em}
pre{background:#f0f2f4;padding:.6rem;overflow:auto;white-space:pre-wrap;word-break:break-word}
details{margin-top:.6rem;color:#5b6570}.empty{color:#5b6570}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #eef0f2;vertical-align:top}
td details{margin:0}
`;

// Static apart from the constant spliced in at load: the policy pins its hash.
const SCRIPT = `
"use strict";
for (const form of document.querySelectorAll("form[data-action]")) form.addEventListener("submit", submitAction);

async function submitAction(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const answer = form.parentElement.querySelector(".answer");
  const status = answer.querySelector(".status");
  const panes = {
    full: { line: answer.querySelector(".full-status"), body: answer.querySelector("pre.payload") },
    vera: { line: answer.querySelector(".vera-status"), body: answer.querySelector("pre.vera") },
  };
  answer.hidden = false;
  for (const element of [status, panes.full.line, panes.vera.line]) delete element.dataset.ok;
  for (const element of [panes.full.line, panes.full.body, panes.vera.line, panes.vera.body]) element.textContent = "";
  let fields;
  try {
    fields = collectFields(form);
  } catch (error) {
    status.textContent = "Not sent: " + error.message;
    return;
  }
  status.textContent = "Calling " + form.dataset.action + "…";
  const started = performance.now();
  try {
    const response = await fetch("${EXPLORE_PATH}", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: form.dataset.action, fields }),
    });
    const text = await response.text();
    const ms = Math.round(performance.now() - started);
    status.textContent = "HTTP " + response.status + " " + response.statusText + " in " + ms + " ms";
    status.dataset.ok = String(response.ok);
    const answers = parseJson(text);
    if (answers && answers.full && answers.vera) {
      for (const mode of ["full", "vera"]) show(panes[mode], answers[mode]);
    } else {
      panes.full.body.textContent = pretty(text);
    }
  } catch (error) {
    status.textContent = "Request failed: " + error.message;
    status.dataset.ok = "false";
  }
}

function collectFields(form) {
  const fields = {};
  for (const input of form.querySelectorAll("[data-field]")) {
    const name = input.dataset.field;
    const raw = input.value;
    if (raw === "") continue; // an empty input means the field is absent
    fields[name] = parseValue(name, input.dataset.kind, raw);
  }
  return fields;
}

function parseValue(name, kind, raw) {
  if (kind === "integer" || kind === "number") {
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new Error(name + " is not a number");
    return value;
  }
  if (kind === "enum" || kind === "json") {
    try {
      return JSON.parse(raw);
    } catch {
      throw new Error(name + " is not valid JSON");
    }
  }
  return raw;
}

function show(pane, answer) {
  pane.line.textContent = "HTTP " + answer.status + " " + answer.text;
  pane.line.dataset.ok = String(answer.status >= 200 && answer.status < 300);
  pane.body.textContent = JSON.stringify(answer.body, null, 2);
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
`;

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** Allows exactly this page's inline style and script, and fetches to the board itself. */
export const EXPLORER_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Safe in text and in double- or single-quoted attributes. */
export function escapeHtml(value: unknown): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** The field's type, ignoring "null" (zod's nullable) and looking into anyOf/oneOf. */
function primaryType(schema: Schema): string | undefined {
  const { type } = schema;
  if (typeof type === "string") return type;
  if (Array.isArray(type)) return type.find((t): t is string => typeof t === "string" && t !== "null");
  for (const variants of [schema.anyOf, schema.oneOf]) {
    if (!Array.isArray(variants)) continue;
    for (const variant of variants) {
      const inner = isJsonObject(variant) ? primaryType(variant) : undefined;
      if (inner && inner !== "null") return inner;
    }
  }
  return undefined;
}

function kindOf(schema: Schema): FieldKind {
  if (Array.isArray(schema.enum)) return "enum";
  const type = primaryType(schema);
  if (type === "string" || type === "integer" || type === "number" || type === "boolean") return type;
  return "json";
}

function attr(name: string, value: unknown): string {
  return value === undefined || value === null ? "" : ` ${name}="${escapeHtml(value)}"`;
}

function numberAttr(name: string, value: unknown): string {
  return typeof value === "number" && Number.isFinite(value) ? attr(name, value) : "";
}

function textInputType(name: string, schema: Schema): string {
  if (/password/i.test(name)) return "password";
  return schema.format === "email" ? "email" : "text";
}

function option(value: string, label: string, selected: boolean): string {
  return `<option value="${escapeHtml(value)}"${selected ? " selected" : ""}>${escapeHtml(label)}</option>`;
}

function renderInput(id: string, name: string, schema: Schema, kind: FieldKind, required: boolean): string {
  // Booleans are a select of JSON texts, parsed in the page like an enum's.
  const dataKind = kind === "boolean" ? "enum" : kind;
  const common = `id="${id}" data-field="${escapeHtml(name)}" data-kind="${dataKind}"${required ? " required" : ""}`;
  const fallback = schema.default;
  if (kind === "enum" || kind === "boolean") {
    const values = kind === "enum" ? (schema.enum as unknown[]) : [true, false];
    const options = values.map((v) => option(JSON.stringify(v) ?? "null", String(v), JSON.stringify(v) === JSON.stringify(fallback)));
    const unset = option("", required ? "— choose —" : "(absent)", fallback === undefined);
    return `<select ${common}>${unset}${options.join("")}</select>`;
  }
  if (kind === "integer" || kind === "number") {
    const step = kind === "integer" ? "1" : "any";
    return `<input type="number" step="${step}" ${common}${numberAttr("min", schema.minimum)}${numberAttr("max", schema.maximum)}${numberAttr("value", fallback)}>`;
  }
  if (kind === "string") {
    const bounds = `${numberAttr("minlength", schema.minLength)}${numberAttr("maxlength", schema.maxLength)}`;
    const value = typeof fallback === "string" ? attr("value", fallback) : "";
    return `<input type="${textInputType(name, schema)}" autocomplete="off" ${common}${bounds}${value}>`;
  }
  const value = fallback === undefined ? "" : escapeHtml(JSON.stringify(fallback, null, 2));
  return `<textarea ${common} placeholder="JSON">${value}</textarea>`;
}

/** Constraints a reader wants to see next to the input. */
function hints(schema: Schema): string[] {
  const out: string[] = [];
  if (typeof schema.description === "string") out.push(schema.description);
  const rules: string[] = [];
  if (typeof schema.minLength === "number") rules.push(`min length ${schema.minLength}`);
  if (typeof schema.maxLength === "number") rules.push(`max length ${schema.maxLength}`);
  if (typeof schema.minimum === "number") rules.push(`≥ ${schema.minimum}`);
  if (typeof schema.maximum === "number") rules.push(`≤ ${schema.maximum}`);
  if (typeof schema.format === "string") rules.push(`format ${schema.format}`);
  if (typeof schema.pattern === "string") rules.push(`pattern ${schema.pattern}`);
  if (schema.default !== undefined) rules.push(`default ${JSON.stringify(schema.default)}`);
  if (rules.length > 0) out.push(rules.join(", "));
  return out;
}

function renderField(actionIndex: number, fieldIndex: number, name: string, raw: unknown, required: boolean): string {
  const schema: Schema = isJsonObject(raw) ? raw : {};
  const kind = kindOf(schema);
  const id = `field-${actionIndex}-${fieldIndex}`;
  const typeLabel = kind === "enum" ? "one of" : (primaryType(schema) ?? "JSON");
  const mark = required ? ' <span class="required" title="required">*</span>' : "";
  const hintText = hints(schema).map((h) => `<p class="hint">${escapeHtml(h)}</p>`).join("");
  return `<div class="field"><label for="${id}">${escapeHtml(name)}${mark} <span class="type">${escapeHtml(typeLabel)}</span></label>${renderInput(id, name, schema, kind, required)}${hintText}</div>`;
}

/** Where each answer shows: the consumer's payload and the real plugboard's answer, the board's own mode marked. */
function renderAnswer(mode: HttpMode): string {
  const current = (pane: HttpMode) => (pane === mode ? ' <span class="current">(this board answers so)</span>' : "");
  return `<div class="answer" hidden><p class="status" role="status"></p><div class="modes">
<div class="pane" data-mode="full"><h3>Consumer payload · full${current("full")}</h3><p class="line full-status"></p><pre class="payload"></pre></div>
<div class="pane" data-mode="vera"><h3>Vera Plugboard answer · vera${current("vera")}</h3><p class="line vera-status"></p><pre class="vera"></pre></div>
</div></div>`;
}

function renderAction(index: number, name: string, raw: unknown, mode: HttpMode): string {
  const spec: Schema = isJsonObject(raw) ? raw : {};
  const fields = isJsonObject(spec.fields) ? spec.fields : {};
  const required = new Set(Array.isArray(spec.required) ? spec.required.filter((r) => typeof r === "string") : []);
  const description = typeof spec.description === "string" ? `<p class="description">${escapeHtml(spec.description)}</p>` : "";
  const inputs = Object.entries(fields).map(([field, schema], i) => renderField(index, i, field, schema, required.has(field)));
  const noFields = inputs.length === 0 ? '<p class="empty">No fields.</p>' : "";
  return `<section id="action-${index}"><h2>${escapeHtml(name)}</h2>${description}
<form data-action="${escapeHtml(name)}">${noFields}${inputs.join("\n")}<button type="submit">Call ${escapeHtml(name)}</button></form>
${renderAnswer(mode)}
<details><summary>Schema</summary><pre>${escapeHtml(JSON.stringify(raw, null, 2))}</pre></details></section>`;
}

const MODE_TEXT: Record<HttpMode, string> = {
  full: "with the consumer's payload, its <code>status_code</code> as the HTTP status",
  vera: 'as the Vera Plugboard does: 200 or 400 with <code>{"status", "message"}</code> only, 502 for an answer without them',
};

/** The other services a board hosts: what a caller needs (the service id) and what each publishes. */
function renderOtherServices(services: NonNullable<ExplorerContext["otherServices"]>): string {
  const items = services.map((s) => {
    const actions = isJsonObject(s.actions) ? Object.entries(s.actions) : [];
    const list = actions.length > 0
      ? `<ul>${actions.map(([name, spec]) => `<li><code>${escapeHtml(name)}</code>${isJsonObject(spec) && typeof spec.description === "string" && spec.description !== "" ? ` — ${escapeHtml(spec.description)}` : ""}</li>`).join("")}</ul>`
      : '<p class="empty">No consumer has joined yet.</p>';
    const plural = s.joinedConsumers === 1 ? "" : "s";
    return `<section><h2>${escapeHtml(s.name)}</h2><p>service id <code>${escapeHtml(s.id)}</code> · ${s.joinedConsumers} consumer${plural} joined · <a href="/actions?service_id=${encodeURIComponent(s.id)}">/actions</a></p>${list}</section>`;
  });
  return `<div id="services"><h2>Other services on this board</h2>
<p class="description">Each joins with its own token (PLUGBOARD_SERVICES) and is called with <code>POST /</code> and <code>{"service_id", "action", "fields"}</code>, as on the Vera Plugboard.</p>
${items.join("\n")}</div>`;
}

/** The latest events: each row's envelope is untrusted data, escaped like everything else. */
function renderEvents(events: readonly RecentEvent[]): string {
  const rows = events.map((e) => {
    const state = e.publishedAt ? "published" : "in the outbox";
    const handled = [...e.handledBy, ...e.failing].map(escapeHtml).join(", ") || "—";
    return `<tr><td><code>${escapeHtml(e.envelope.event_type)}</code></td><td>${escapeHtml(e.envelope.subject)}</td><td>${escapeHtml(e.envelope.timestamp)}</td><td>${state}</td><td>${handled}</td>
<td><details><summary>envelope</summary><pre>${escapeHtml(JSON.stringify(e.envelope, null, 2))}</pre></details></td></tr>`;
  });
  return `<section id="events"><h2>Latest events</h2>
<p class="description">The newest domain events in the outbox (reload to refresh): published once the relay has sent them on, handled once a subscriber has finished them.</p>
${rows.length > 0 ? `<table><thead><tr><th>type</th><th>subject</th><th>time</th><th>state</th><th>subscribers</th><th></th></tr></thead><tbody>${rows.join("\n")}</tbody></table>` : '<p class="empty">No event yet: register an account above.</p>'}
</section>`;
}

/** The whole page. */
export function renderExplorer(context: ExplorerContext): string {
  const actions = isJsonObject(context.actions) ? Object.entries(context.actions) : [];
  const nav = actions.map(([name], i) => `<a href="#action-${i}">${escapeHtml(name)}</a>`).join("");
  const body =
    actions.length > 0
      ? actions.map(([name, spec], i) => renderAction(i, name, spec, context.httpMode)).join("\n")
      : '<p class="empty">No consumer has joined yet: start one and reload this page.</p>';
  const plural = context.joinedConsumers === 1 ? "" : "s";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(context.serviceName)} · dev plugboard</title><style>${STYLE}</style></head>
<body><header><h1>${escapeHtml(context.serviceName)} · dev plugboard</h1>
<p>The actions your service published. Each form calls its action as <code>POST /</code> with <code>{"action": …, "fields": {…}}</code> does, and shows the answer both ways: the consumer's whole payload, and what a caller of the Vera Plugboard receives.</p>
<p class="mode">HTTP mode <code>${escapeHtml(context.httpMode)}</code>: <code>POST /</code> answers ${MODE_TEXT[context.httpMode]}.</p>
<p>Socket <code>${escapeHtml(context.socketUrl)}</code> · service id <code>${escapeHtml(context.serviceId)}</code> · ${context.joinedConsumers} consumer${plural} joined · <a href="/actions">/actions</a></p></header>
<main><nav>${nav}${context.otherServices && context.otherServices.length > 0 ? '<a href="#services">Other services</a>' : ""}${context.events ? '<a href="#events">Latest events</a>' : ""}</nav>
${body}
${context.otherServices && context.otherServices.length > 0 ? renderOtherServices(context.otherServices) : ""}
${context.events ? renderEvents(context.events) : ""}
</main><script>${SCRIPT}</script></body></html>
`;
}
