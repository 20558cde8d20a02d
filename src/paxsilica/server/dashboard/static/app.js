// paxsilica dashboard: plain ES modules, no build step. Every page draws the JSON of an API
// endpoint (/api/v1/views/* and friends); nothing here computes a measure.
// Text is always set with textContent (never innerHTML), so data cannot inject markup; the page's
// Content-Security-Policy forbids inline and foreign scripts besides.
import cytoscape from "/dashboard/vendor/cytoscape.esm.min.js";
import uPlot from "/dashboard/vendor/uPlot.esm.js";

const API = "/api/v1";
const SVGNS = "http://www.w3.org/2000/svg";
// the access token lives in memory only; the refresh token in sessionStorage, so that a reload of
// this tab keeps the session but closing the tab ends it (docs/dashboard.md, "Sign-in")
let access = null;
let me = null;
let world = null;
let pollTimer = null;

class HttpError extends Error {
  constructor(status, body) { super(body && body.detail ? body.detail : `HTTP ${status}`); this.status = status; this.body = body; }
}

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}
function s(tag, attrs = {}) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, v);
  return el;
}
const fmt = (x, nd = 1) => (x === null || x === undefined) ? "–" : (typeof x === "number" ? x.toFixed(nd) : String(x));
const pct = (x, nd = 1) => (x === null || x === undefined) ? "–" : (typeof x === "number" ? (100 * x).toFixed(nd) + " %" : String(x));

async function refresh() {
  const rt = sessionStorage.getItem("pxs_refresh");
  if (!rt) return false;
  const r = await fetch(API + "/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: rt }) });
  if (!r.ok) { sessionStorage.removeItem("pxs_refresh"); return false; }
  const t = await r.json();
  access = t.access_token; sessionStorage.setItem("pxs_refresh", t.refresh_token);
  return true;
}

async function api(path, opts = {}, retry = true) {
  const headers = Object.assign({}, opts.headers || {});
  if (access) headers.Authorization = "Bearer " + access;
  if (opts.json !== undefined) { headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(opts.json); }
  const r = await fetch(API + path, { method: opts.method || "GET", headers, body: opts.body });
  if (r.status === 401 && retry && await refresh()) return api(path, opts, false);
  if (r.status === 401) { access = null; me = null; showLogin(); throw new HttpError(401, { detail: "please log in" }); }
  const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new HttpError(r.status, body);
  return body;
}

const main = () => document.getElementById("main");
function page(title, ...kids) {
  const m = main();
  m.replaceChildren(h("h1", { text: title }), ...kids.filter(k => k !== null && k !== undefined));
  document.title = title + " · paxsilica";
  return m;
}
function table(cols, rows, caption) {
  const t = h("table", {}, caption ? h("caption", { text: caption }) : null,
    h("thead", {}, h("tr", {}, cols.map(c => h("th", { scope: "col", text: c[0] })))));
  const tb = h("tbody");
  for (const r of rows) tb.append(h("tr", {}, cols.map(c => { const v = c[1](r); return h("td", {}, v instanceof Node ? v : String(v ?? "–")); })));
  t.append(tb);
  return h("div", { class: "scroll" }, t);
}
const itemLink = (id, name) => h("a", { href: "#/item/" + encodeURIComponent(id), text: name || id });
// each kind of run has its own page
const runHref = (r) => ({ montecarlo: "#/montecarlo/", plan: "#/plans/" }[r.kind] || "#/runs/") + r.id;
const runLink = (r, text) => h("a", { href: runHref(r), text: text || r.scenario || r.kind });
// a generic cell: integers as they are, other numbers to 3 decimals (1 from 100), lists joined
const cell = (x) => x === null || x === undefined ? "–" : typeof x === "number"
  ? (Number.isInteger(x) ? String(x) : x.toFixed(Math.abs(x) >= 100 ? 1 : 3))
  : Array.isArray(x) ? x.join(", ") : typeof x === "object" ? JSON.stringify(x) : String(x);
const records = (t, caption) => table(t.columns.map(c => [c.replace(/_/g, " "), r => cell(r[c])]), t.rows, caption);

// --------------------------------------------------------------------------- login

function showLogin(message) {
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  const err = h("p", { class: "error", role: "alert", id: "login-error", text: message || "" });
  const form = h("form", { id: "login", "aria-label": "Log in" },
    h("label", { for: "username", text: "Username" }), h("input", { id: "username", name: "username", autocomplete: "username", required: true }),
    h("label", { for: "password", text: "Password" }), h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit", text: "Log in" }), err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await fetch(API + "/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }) });
    const body = await r.json();
    if (!r.ok) { err.textContent = body.detail || "login failed"; return; }
    access = body.access_token; sessionStorage.setItem("pxs_refresh", body.refresh_token);
    await start();
  });
  page("Log in", form);
  document.getElementById("username").focus();
}

async function start() {
  me = await api("/me");
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("nav-audit").hidden = me.role !== "admin";
  document.getElementById("who").textContent = `${me.username} (${me.role}, ${me.org_name})`;
  if (!location.hash || location.hash === "#/" || location.hash === "#/login") location.hash = "#/overview";
  else route();
}

// --------------------------------------------------------------------------- maps

async function worldShapes() { if (!world) world = await api("/views/world"); return world; }

function mapSvg(w, label) {
  const [x, y, wd, ht] = w.viewbox;
  const svg = s("svg", { viewBox: `${x} ${y} ${wd} ${ht}`, class: "map", role: "img", "aria-label": label });
  svg.append(s("rect", { x, y, width: wd, height: ht, class: "sea" }));
  return svg;
}
function shade(v, max) { // share → colour (light to dark blue); no data → grey
  if (!v) return "#e8e8e8";
  const t = Math.min(1, v / (max || 100));
  const l = 92 - 62 * Math.sqrt(t);
  return `hsl(212, 70%, ${l}%)`;
}

function choropleth(w, shares, members, label, empty = "no production") {
  const svg = mapSvg(w, label);
  const max = Math.max(1, ...Object.values(shares));
  const g = s("g");
  for (const [iso, c] of Object.entries(w.countries)) {
    const p = s("path", { d: c.d, fill: shade(shares[iso], max), class: "country" + (members.has(iso) ? " member" : ""), "data-iso": iso });
    const t = s("title"); t.textContent = `${c.name}: ${shares[iso] ? shares[iso].toFixed(1) + " %" : empty}${members.has(iso) ? " (coalition member)" : ""}`;
    p.append(t); g.append(p);
  }
  svg.append(g);
  return svg;
}

// --------------------------------------------------------------------------- pages

async function overviewPage() {
  const v = await api("/views/overview");
  const tiers = v.top_dependencies;
  page("Overview",
    h("p", { text: `Atlas ${v.atlas.name} (version ${v.atlas.version}): ${v.atlas.items} items, ${v.atlas.countries} countries. Coalition: ${v.coalition}.` }),
    h("h2", { text: "Coalition coverage by stage" }),
    table([["Stage", r => r.stage], ["Items", r => r.n_items], ["Mean coalition share", r => pct(r.coalition_share_mean)],
      ["Weakest item", r => r.weakest_item ? itemLink(r.weakest_item) : "–"], ["Single points of failure", r => r.n_spof],
      ["Depend on other tier", r => r.n_other_dependency]], v.stages),
    h("h2", { text: "Top dependencies by supplier tier" }),
    h("div", { class: "cols" }, ["member", "partner", "other"].map(t => h("section", { "aria-label": `${t} tier` },
      h("h3", { text: `${t[0].toUpperCase()}${t.slice(1)} tier` }),
      table([["Item", r => itemLink(r.item, r.name)], ["Largest producer", r => r.top1], ["Share of world output", r => pct(r.top1_share)]], tiers[t] || [])))),
    h("h2", { text: "Latest runs" }),
    v.latest_runs.length ? table([["Run", r => runLink(r)], ["Kind", r => r.kind], ["Status", r => r.status],
      ["Loss", r => r.loss_pct === undefined ? "–" : fmt(r.loss_pct, 2) + " %"],
      ["Band (5–95 %)", r => r.bands && r.bands.loss_pct ? r.bands.loss_pct.map(x => fmt(x, 2)).join(" – ") + " %" : "–"],
      ["Time to survive (days)", r => fmt(r.time_to_survive_days, 0)]], v.latest_runs)
      : h("p", { text: "No runs yet: start one on the Scenarios page." }));
}

async function itemPage(id) {
  const [v, w] = await Promise.all([api("/views/items/" + encodeURIComponent(id)), worldShapes()]);
  const members = new Set(v.members);
  const holder = h("div", { class: "mapbox", id: "item-map" });
  const draw = (key) => holder.replaceChildren(choropleth(w, v.shares[key], members,
    `${v.item.name}: share of world output by country (${key === "made_in" ? "made in" : "controlled by"})`));
  const toggle = h("fieldset", { class: "toggle" }, h("legend", { text: "Producer shares by" }),
    ...[["made_in", "made in"], ["controlled_by", "controlled by"]].map(([k, label], i) => h("label", {},
      h("input", { type: "radio", name: "basis", value: k, checked: i === 0, onchange: () => draw(k) }), " " + label)));
  draw("made_in");
  const stale = v.producers.filter(p => p.stale).length;
  page(v.item.name,
    h("p", { text: `${v.item.stage.replace("_", " ")} · ${v.item.description || ""}` }),
    toggle, holder,
    h("p", { class: "legend", text: `Darker: larger share of world output (${v.latest_year ?? "no"} data). Thick outline: member of ${v.coalition}.` }),
    h("h2", { text: "Producers" }),
    stale ? h("p", { class: "warn", text: `${stale} figure(s) older than ${v.stale_after_years} years are flagged stale.` }) : null,
    table([["Producer", r => r.name], ["Made in", r => r.made_in], ["Controlled by", r => r.controlled_by], ["Tier", r => r.tier],
      ["Share", r => fmt(r.share) + " %"], ["Year", r => r.stale ? h("span", { class: "stale", text: `${r.year} (stale)` }) : r.year],
      ["Source", r => h("span", { title: r.source_title || "", text: r.source })]], v.producers),
    h("div", { class: "cols" },
      h("section", {}, h("h2", { text: "Upstream (inputs)" }), table([["Input", r => itemLink(r.item, r.name)], ["Dependent share", r => pct(r.dependent_share, 0)], ["Use", r => r.use || "material"]], v.upstream)),
      h("section", {}, h("h2", { text: "Downstream (used by)" }), table([["Client", r => itemLink(r.item, r.name)], ["Dependent share", r => pct(r.dependent_share, 0)], ["Use", r => r.use || "material"]], v.downstream))));
}

export function stageLayout(nodes, stages) { // x by stage, y by order within the stage: O(n), no physics
  const col = new Map(stages.map((st, i) => [st, i]));
  const seen = new Map();
  return nodes.map(n => {
    const c = col.has(n.stage) ? col.get(n.stage) : stages.length;
    const k = seen.get(c) || 0; seen.set(c, k + 1);
    return { x: c * 260, y: k * 34 };
  });
}

const BIG_GRAPH = 1000; // items above which the network page starts with its links hidden

function riskColour(hhi) { // HHI 0..10,000 → green..red (DOJ/FTC: > 2,500 highly concentrated)
  if (hhi === null || hhi === undefined) return "#999";
  const t = Math.min(1, hhi / 10000);
  return `hsl(${Math.round(120 * (1 - t))}, 65%, 42%)`;
}

async function networkPage() {
  const v = await api("/views/network");
  const pos = stageLayout(v.nodes, v.stages);
  // drawing the links is most of a frame's cost on a large atlas (bench/bench_dashboard.py): there
  // they start hidden, behind a checkbox
  const big = v.nodes.length > BIG_GRAPH;
  const links = h("input", { id: "f-links", type: "checkbox", checked: !big });
  const box = h("div", { id: "graph", role: "img", "aria-label": `Supply network: ${v.nodes.length} items by stage, coloured by concentration` });
  const stageSel = h("select", { id: "f-stage" }, h("option", { value: "", text: "all stages" }), v.stages.map(x => h("option", { value: x, text: x })));
  const tierSel = h("select", { id: "f-tier" }, h("option", { value: "", text: "all tiers" }), ["member", "partner", "other"].map(x => h("option", { value: x, text: x })));
  const country = h("input", { id: "f-country", size: 4, maxlength: 3, placeholder: "ISO3" });
  const count = h("p", { id: "graph-count", "aria-live": "polite" });
  const list = h("ul", { class: "itemlist", id: "graph-list" });
  page("Network",
    h("form", { class: "filters", "aria-label": "Filters", onsubmit: e => e.preventDefault() },
      h("label", { for: "f-stage", text: "Stage" }), stageSel, h("label", { for: "f-tier", text: "Coalition tier" }), tierSel,
      h("label", { for: "f-country", text: "Producer country" }), country,
      h("label", { for: "f-links", text: "Show links" }), links),
    count, box, h("p", { class: "legend", text: "Colour: concentration of world output (HHI), green low to red high. Click an item to open it." }),
    h("details", {}, h("summary", { text: "Items as a list" }), list));
  const cy = cytoscape({
    container: box, minZoom: 0.02, maxZoom: 3, textureOnViewport: true, hideEdgesOnViewport: v.nodes.length > 1000,
    elements: [
      ...v.nodes.map((n, i) => ({ data: { id: n.id, label: n.name, colour: riskColour(n.hhi) }, position: pos[i] })),
      ...v.edges.map((e, i) => ({ data: { id: "e" + i, source: e.source, target: e.target }, classes: big ? "nolinks" : "" })),
    ],
    layout: { name: "preset" },
    style: [
      { selector: "node", style: { "background-color": "data(colour)", label: "data(label)", "font-size": 10, width: 14, height: 14, "text-valign": "center", "text-halign": "right", "text-margin-x": 4, "min-zoomed-font-size": 7 } },
      { selector: "edge", style: { width: 1, "line-color": "#bbb", "curve-style": "haystack", opacity: 0.6 } },
      { selector: ".hidden, .nolinks", style: { display: "none" } },
    ],
  });
  window.__cy = cy; // the browser tests read the graph's node count
  cy.on("tap", "node", ev => { location.hash = "#/item/" + encodeURIComponent(ev.target.id()); });
  // filtering restyles only the nodes whose visibility changes (restyling is what costs on a large
  // graph: bench/bench_dashboard.py); the list shows the first LIST_MAX items that pass
  const LIST_MAX = 200;
  const shown = new Array(v.nodes.length).fill(true);
  const cyNodes = v.nodes.map(n => cy.getElementById(n.id));
  const apply = () => {
    const st = stageSel.value, t = tierSel.value, c = country.value.trim().toUpperCase();
    const show = [], hide = [], listed = [];
    let n = 0;
    v.nodes.forEach((x, i) => {
      const keep = (!st || x.stage === st) && (!t || x.tiers.includes(t)) && (!c || x.countries.includes(c));
      if (keep) { n += 1; if (listed.length < LIST_MAX) listed.push(x); }
      if (keep !== shown[i]) { (keep ? show : hide).push(cyNodes[i]); shown[i] = keep; }
    });
    if (show.length || hide.length) cy.batch(() => { cy.collection(hide).addClass("hidden"); cy.collection(show).removeClass("hidden"); });
    count.textContent = `${n} of ${v.nodes.length} items shown`;
    list.replaceChildren(...listed.map(x => h("li", {}, itemLink(x.id, x.name))));
  };
  links.addEventListener("change", () => cy.batch(() => cy.edges().toggleClass("nolinks", !links.checked)));
  for (const el of [stageSel, tierSel]) el.addEventListener("change", apply);
  country.addEventListener("input", apply);
  apply();
  cy.fit(undefined, 20);
}

async function chokepointsPage(closedText) {
  const closed = new Set((closedText || "").split(",").filter(Boolean));
  const q = closed.size ? "?closed=" + [...closed].sort().join(",") : "";
  const [v, w] = await Promise.all([api("/views/chokepoints" + q), worldShapes()]);
  const svg = mapSvg(w, "Sea lanes and chokepoints" + (closed.size ? ` with ${[...closed].join(", ")} closed` : ""));
  const g = s("g");
  for (const c of Object.values(w.countries)) g.append(s("path", { d: c.d, class: "country land" }));
  svg.append(g);
  const lanes = s("g", { class: "lanes" });
  for (const l of v.lanes) {
    if (l.status === "cut" && l.d_before) lanes.append(s("path", { d: l.d_before, class: "lane cut" }));
    else if (l.d) lanes.append(s("path", { d: l.d, class: "lane " + l.status }));
  }
  svg.append(lanes);
  for (const c of v.chokepoints) {
    const r = 3 + 9 * Math.sqrt(c.max_share || 0);
    const dot = s("circle", { cx: c.x, cy: c.y, r, class: "cp" + (c.closed ? " closed" : ""), "data-id": c.id });
    const t = s("title"); t.textContent = `${c.name}: up to ${(100 * c.max_share).toFixed(0)} % of an item's supply passes`;
    dot.append(t); svg.append(dot);
  }
  const boxes = h("fieldset", { class: "closures" }, h("legend", { text: "Close chokepoints" }),
    v.chokepoints.map(c => h("label", {}, h("input", { type: "checkbox", value: c.id, checked: c.closed,
      onchange: (e) => { if (e.target.checked) closed.add(c.id); else closed.delete(c.id); location.hash = "#/chokepoints/" + [...closed].sort().join(","); } }), " " + c.name)));
  page("Chokepoints", boxes,
    h("p", { id: "lane-counts", "aria-live": "polite", text: `Lanes: ${v.counts.open} open, ${v.counts.rerouted} rerouted, ${v.counts.cut} cut.` }),
    h("div", { class: "mapbox" }, svg),
    h("p", { class: "legend", text: "Blue: open lanes; orange: rerouted; red dashed: cut. Circle size: largest share of an item's supply through the chokepoint." }),
    closed.size ? h("section", {}, h("h2", { text: "Impact of the closure" }),
      table([["Item", r => itemLink(r.item, r.name)], ["Passing", r => pct(r.share_passing)], ["Cut", r => pct(r.share_cut)],
        ["Rerouted", r => pct(r.share_rerouted)], ["Added days", r => fmt(r.mean_added_days)]], v.impact.filter(r => r.share_passing > 0)),
      h("h3", { text: "Rerouted lanes" }),
      table([["From", r => r.exporter], ["To", r => r.importer], ["Added days", r => fmt(r.added_days)]], v.lanes.filter(l => l.status === "rerouted").slice(0, 100)))
      : h("section", {}, h("h2", { text: "Exposure" }),
        table([["Chokepoint", r => r.name], ["Largest share of an item", r => pct(r.max_share)], ["Items most exposed", r => r.top_items.map(x => x.name).join(", ")]],
          [...v.chokepoints].sort((a, b) => b.max_share - a.max_share))));
}

const SHOCKS = { // the form's shock types and how each field lands in the scenario YAML
  export_ban: (f) => `  - type: export_ban\n    exporter: ${f.country}\n    items: [${f.item}]\n    start: ${f.start}\n    end: ${f.end}\n`,
  site_outage: (f) => `  - type: site_outage\n    item: ${f.item}\n    producer: ${f.country}\n    loss: 1.0\n    start: ${f.start}\n`,
  blockade: (f) => `  - type: blockade\n    country: ${f.country}\n    start: ${f.start}\n    end: ${f.end}\n`,
  demand_surge: (f) => `  - type: demand_surge\n    item: ${f.item}\n    factor: 1.5\n    start: ${f.start}\n    end: ${f.end}\n`,
};

async function scenariosPage() {
  const list = await api("/scenarios?limit=500");
  const canRun = me.role !== "viewer";
  const sel = h("select", { id: "scenario" }, list.items.map(x => h("option", { value: x.name, text: x.name + (x.builtin ? "" : " (yours)") })));
  const msg = h("p", { id: "run-msg", role: "status" });
  const runIt = async (name) => {
    const draws = Number((document.getElementById("bands") || { value: 0 }).value) || 0;
    try { const r = await api("/runs", { method: "POST", json: { scenario: name, bands: draws } }); location.hash = "#/runs/" + r.id; }
    catch (e) { msg.textContent = e.message; }
  };
  const saveYaml = async (yaml) => {
    try { const sc = await api("/scenarios", { method: "POST", json: { yaml } }); msg.textContent = `Saved scenario ${sc.name}.`; return sc.name; }
    catch (e) { msg.textContent = e.body && e.body.problems ? e.body.problems.map(p => `${p.file}, row ${p.row}, ${p.column}: ${p.reason}`).join("; ") : e.message; return null; }
  };
  const kids = [h("h2", { text: "Built-in and saved scenarios" }), h("label", { for: "scenario", text: "Scenario" }), sel];
  if (canRun) {
    kids.push(h("label", { for: "bands", text: "Uncertainty draws (0: central values only)" }),
      h("input", { id: "bands", type: "number", min: 0, max: 64, value: 0, size: 3 }),
      h("button", { id: "run", type: "button", text: "Run", onclick: () => runIt(sel.value) }));
    const file = h("input", { id: "yaml-file", type: "file", accept: ".yaml,.yml" });
    kids.push(h("h2", { text: "Upload a scenario (YAML)" }), h("label", { for: "yaml-file", text: "Scenario file" }), file,
      h("button", { type: "button", text: "Upload and run", onclick: async () => { if (!file.files[0]) return; const n = await saveYaml(await file.files[0].text()); if (n) runIt(n); } }));
    const f = (id, label, attrs) => [h("label", { for: id, text: label }), h("input", Object.assign({ id }, attrs))];
    const type = h("select", { id: "f-type" }, Object.keys(SHOCKS).map(k => h("option", { value: k, text: k.replace("_", " ") })));
    const form = h("form", { id: "builder", class: "grid", "aria-label": "Build a scenario" },
      ...f("f-name", "Name", { required: true, pattern: "[a-z0-9_]+", value: "my_scenario" }),
      h("label", { for: "f-type", text: "Shock type" }), type,
      ...f("f-item", "Item", { value: "gallium" }), ...f("f-country", "Country (ISO3)", { value: "CHN", maxlength: 3 }),
      ...f("f-date", "Day 0 (date)", { type: "date", value: new Date().toISOString().slice(0, 10) }),
      ...f("f-start", "Start (day)", { type: "number", min: 0, value: 0 }), ...f("f-end", "End (day)", { type: "number", min: 1, value: 180 }),
      h("button", { type: "submit", text: "Save and run" }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const v = (id) => document.getElementById(id).value.trim();
      const fields = { item: v("f-item"), country: v("f-country").toUpperCase(), start: Number(v("f-start")), end: Number(v("f-end")) };
      const yaml = `name: ${v("f-name")}\ndescription: built in the dashboard\nreference_date: "${v("f-date")}"\nhorizon: ${Math.max(fields.end + 90, 180)}\nstep: 1\nshocks:\n` + SHOCKS[type.value](fields);
      const n = await saveYaml(yaml); if (n) runIt(n);
    });
    kids.push(h("h2", { text: "Build a scenario" }), form);
  } else kids.push(h("p", { text: "Viewers can read runs but not start them." }));
  const runs = await api("/runs?limit=20");
  kids.push(msg, h("h2", { text: "Your organisation's runs" }),
    table([["Run", r => runLink(r)], ["Kind", r => r.kind], ["Status", r => r.status], ["Created", r => r.created_at.slice(0, 19)]], runs.items));
  page("Scenario runner", ...kids);
}

function chart(container, c, title) {
  const data = [c.day, ...c.series.map(x => x.level)];
  const palette = ["#1f4e9c", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0e7490"];
  const series = [{ label: "day" }, ...c.series.map((x, i) => ({ label: x.name, stroke: palette[i % palette.length], width: x.kind === "target" ? 3 : 1.5 }))];
  const opts = { title, width: Math.max(320, container.clientWidth || 600), height: 320, series, scales: { x: { time: false }, y: { range: (u, lo, hi) => [Math.min(lo, 0.9), Math.max(hi, 1.02)] } },
    axes: [{ label: "day" }, { label: "level (1 = normal)" }] };
  const bands = c.bands && c.bands.min_level;
  if (c.band) { // the target level's 5th–95th percentile over the run's draws, day by day
    data.push(c.band.low, c.band.high);
    series.push({ label: "target band 5 %", stroke: "rgba(31,78,156,0.35)", width: 1 }, { label: "target band 95 %", stroke: "rgba(31,78,156,0.35)", width: 1 });
    opts.bands = [{ series: [series.length - 1, series.length - 2], fill: "rgba(31,78,156,0.15)" }];
    container.dataset.band = "per-step";
  } else if (bands) { // a run stored before per-step bands: its lowest level's band, as a range
    data.push(c.day.map(() => bands[0]), c.day.map(() => bands[1]));
    series.push({ label: "min level band (low)", stroke: "rgba(31,78,156,0.3)", width: 0 }, { label: "min level band (high)", stroke: "rgba(31,78,156,0.3)", width: 0 });
    opts.bands = [{ series: [series.length - 1, series.length - 2], fill: "rgba(31,78,156,0.12)" }];
    container.dataset.band = "headline";
  }
  opts.series = series;
  const u = new uPlot(opts, data, container);
  (window.__charts = window.__charts || {})[container.id || "chart"] = u; // the browser tests read it
  return u;
}

function runSummary(v) {
  const sm = v.result.summary;
  return table([["Measure", r => r[0]], ["Value", r => r[1]]], [
    ["Loss of the target", fmt(sm.loss_pct, 2) + " %"], ["Lowest level", fmt(sm.min_level, 3)],
    ["Time to survive (days)", fmt(sm.time_to_survive_days, 0)], ["Time to recover (days)", fmt(sm.time_to_recover_days, 0)],
    ["Loss band (5–95 %)", sm.bands && sm.bands.loss_pct ? sm.bands.loss_pct.map(x => fmt(x, 2)).join(" – ") + " %" : "no band (run without draws)"]]);
}

async function runPage(id) {
  let v;
  try { v = await api("/views/runs/" + encodeURIComponent(id)); }
  catch (e) { if (e.status === 404) return notFound("No such run (it does not exist, or it belongs to another organisation)."); throw e; }
  if (v.kind && v.kind !== "stress") { location.replace(runHref(v)); return; }
  if (v.status === "queued" || v.status === "running") {
    const bar = h("progress", { id: "progress", max: 1, value: v.progress || 0, "aria-label": "Run progress" });
    page(`Run: ${v.scenario}`, h("p", { id: "run-status", role: "status", text: `${v.status} · ${v.stage || "waiting"} · ${Math.round(100 * (v.progress || 0))} %` }), bar,
      me.role !== "viewer" ? h("button", { type: "button", text: "Cancel", onclick: () => api(`/runs/${id}/cancel`, { method: "POST" }).then(route) }) : null);
    clearTimeout(pollTimer);
    pollTimer = setTimeout(async () => { // live progress: poll /runs/{id}, redraw when it changes state
      if (location.hash !== "#/runs/" + id) return;
      const r = await api("/runs/" + id);
      if (r.status === v.status && r.status !== "done") {
        bar.value = r.progress; document.getElementById("run-status").textContent = `${r.status} · ${r.stage || "waiting"} · ${Math.round(100 * r.progress)} %`;
      }
      runPage(id);
    }, 700);
    return;
  }
  if (v.status !== "done") return page(`Run: ${v.scenario}`, h("p", { class: "error", text: `${v.status}${v.error ? ": " + v.error : ""}` }));
  const box = h("div", { class: "chart", id: "run-chart" });
  const w = await worldShapes();
  const hit = {}; // affected sites: output lost at the worst moment, in percent
  for (const [iso, lv] of Object.entries(v.chart.site_min_level || {})) hit[iso] = 100 * (1 - lv);
  const consumers = (v.result.consumers || []).filter(c => c.loss_pct > 0).sort((a, b) => b.loss_pct - a.loss_pct).slice(0, 15);
  const others = (await api("/runs?limit=50")).items.filter(r => r.status === "done" && r.kind === "stress" && r.id !== id);
  const cmp = h("select", { id: "compare-with" }, others.map(r => h("option", { value: r.id, text: `${r.scenario} (${r.created_at.slice(0, 16)})` })));
  page(`Run: ${v.scenario}`, runSummary(v), box,
    h("h2", { text: "Affected sites" }),
    h("div", { class: "mapbox", id: "run-map" }, runMap(w, hit, v.lanes)),
    h("p", { class: "legend", id: "run-map-legend", text: "Darker: a larger drop of the country's sites' output at the worst moment (sites of firms are not mapped). "
      + (v.lanes && v.lanes.lanes.length ? `Sea lanes touched: ${v.lanes.counts.rerouted} rerouted (orange), ${v.lanes.counts.cut} cut (red, dashed), ${v.lanes.counts.blocked} blocked by a ban or blockade (purple).` : "No sea lane touched by the scenario's shocks.") }),
    h("h2", { text: "Consumers losing AI capacity" }),
    table([["Consumer", r => r.consumer], ["Loss", r => fmt(r.loss_pct, 2) + " %"], ["Time to survive (days)", r => fmt(r.time_to_survive_days, 0)]], consumers),
    h("h2", { text: "Time to survive and recover, by item" }),
    table([["Item", r => itemLink(r.item)], ["Lowest level", r => fmt(r.min_level, 3)], ["Loss", r => fmt(r.loss_pct, 2) + " %"],
      ["Time to survive (days)", r => fmt(r.time_to_survive_days, 0)], ["Time to recover (days)", r => fmt(r.time_to_recover_days, 0)]],
      (v.result.items || []).filter(r => r.min_level < 1).slice(0, 30)),
    others.length ? h("p", {}, h("label", { for: "compare-with", text: "Compare with " }), cmp,
      h("button", { type: "button", text: "Compare", onclick: () => { location.hash = `#/compare/${id}/${cmp.value}`; } })) : null);
  chart(box, v.chart, `${v.chart.series[0].name}: level per day`);
}

function runMap(w, hit, lanes) { // affected sites by country, and the lanes the scenario touches
  const svg = choropleth(w, hit, new Set(), "Affected production sites by country and the sea lanes the run's shocks touch", "not affected");
  if (!lanes || !lanes.lanes.length) return svg;
  const g = s("g", { class: "lanes" });
  for (const l of lanes.lanes) if (l.d) {
    const p = s("path", { d: l.d, class: "lane " + l.status });
    const t = s("title"); t.textContent = `${l.exporter} → ${l.importer}: ${l.status}${l.added_days ? `, +${l.added_days} days` : ""}`;
    p.append(t); g.append(p);
  }
  svg.append(g);
  for (const c of lanes.chokepoints) svg.append(s("circle", { cx: c.x, cy: c.y, r: 5, class: "cp closed", "data-id": c.id }));
  return svg;
}

// live progress of a queued or running run of any kind: poll /runs/{id} and redraw the page when it
// changes state (the page's own function is called again)
function progressPage(title, v, hash, redraw) {
  const bar = h("progress", { id: "progress", max: 1, value: v.progress || 0, "aria-label": "Run progress" });
  const say = (r) => `${r.status} · ${r.stage || "waiting"} · ${Math.round(100 * (r.progress || 0))} %`;
  page(title, h("p", { id: "run-status", role: "status", text: say(v) }), bar,
    me.role !== "viewer" ? h("button", { type: "button", text: "Cancel", onclick: () => api(`/runs/${v.id}/cancel`, { method: "POST" }).then(route) }) : null);
  clearTimeout(pollTimer);
  const tick = async () => {
    if (location.hash !== hash) return;
    let r;
    try { r = await api("/runs/" + v.id); } catch (e) { if (e.status !== 401) document.getElementById("run-status").textContent = e.message; return; }
    if (r.status === v.status) {
      bar.value = r.progress; document.getElementById("run-status").textContent = say(r);
      pollTimer = setTimeout(tick, 700);
    } else redraw();
  };
  pollTimer = setTimeout(tick, 700);
}

const pctOf = (x, nd = 2) => (x === null || x === undefined) ? "–" : (100 * x).toFixed(nd) + " %";

async function montecarloPage(id) {
  if (id) return montecarloRunPage(id);
  const v = await api("/views/montecarlo");
  const kids = [h("p", { text: "Seeded years of events from the bundled hazard catalogue, each run through the stress model: the loss distribution of AI compute, its tail and what drives it (docs/montecarlo.md)." })];
  if (me.role !== "viewer") {
    const f = v.form;
    const msg = h("p", { id: "mc-msg", role: "status" });
    const num = (id, label, prop, value) => [h("label", { for: id, text: label }),
      h("input", { id, type: "number", required: true, min: prop.minimum, max: prop.maximum, value })];
    const form = h("form", { id: "mc-form", class: "grid", "aria-label": "Submit a Monte Carlo run" },
      ...num("mc-draws", "Draws", f.draws, 200), ...num("mc-seed", "Seed", f.seed, f.seed.default),
      ...num("mc-horizon", "Horizon (days)", f.horizon_days, f.horizon_days.default),
      h("label", { for: "mc-levels", text: "VaR / ES levels (comma-separated)" }), h("input", { id: "mc-levels", required: true, value: f.levels.default.join(", ") }),
      h("label", { for: "mc-targets", text: "Targets (item ids, comma-separated)" }), h("input", { id: "mc-targets", required: true, value: f.targets.default.join(", ") }),
      h("button", { id: "mc-run", type: "submit", text: "Run Monte Carlo" }), msg);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const val = (id) => document.getElementById(id).value;
      const list = (id) => val(id).split(",").map(x => x.trim()).filter(Boolean);
      try {
        const r = await api("/montecarlo", { method: "POST", json: { draws: Number(val("mc-draws")), seed: Number(val("mc-seed")),
          horizon_days: Number(val("mc-horizon")), levels: list("mc-levels").map(Number), targets: list("mc-targets") } });
        location.hash = "#/montecarlo/" + r.id;
      } catch (err) { msg.textContent = (err.body && err.body.field ? err.body.field + ": " : "") + err.message; }
    });
    kids.push(h("h2", { text: "New run" }), form);
  } else kids.push(h("p", { text: "Viewers can read Monte Carlo runs but not start them." }));
  kids.push(h("h2", { text: "Your organisation's Monte Carlo runs" }),
    v.runs.length ? table([["Run", r => h("a", { href: "#/montecarlo/" + r.id, text: r.created_at.slice(0, 19) })], ["Status", r => r.status],
      ["Draws", r => r.params.draws], ["Horizon (days)", r => r.params.horizon_days], ["Seed", r => r.params.seed],
      ["Expected loss", r => r.headline ? pctOf(r.headline.expected_loss) : "–"],
      ["Expected shortfall", r => r.headline && r.headline.es !== null ? `${pctOf(r.headline.es)} at ${r.headline.es_level}` : "–"],
      ["Warnings", r => r.headline && r.headline.warnings.length ? h("span", { class: "warn", text: String(r.headline.warnings.length) }) : "–"]], v.runs)
      : h("p", { text: "No Monte Carlo runs yet." }));
  page("Monte Carlo risk", ...kids);
}

const MEASURES = { expected_loss: "Expected loss", var: "Value at risk", es: "Expected shortfall", p_exceed: "P(loss > x)" };

function exceedanceChart(container, curve, title) {
  // P(loss > x) against x; a log scale of probability when the curve has two positive points (a
  // zero cannot be drawn on it: the last point, P = 0, is left out there)
  const pos = curve.p_exceed.filter(p => p > 0).length;
  const log = pos >= 2;
  // P(L > x) holds from one distinct loss to the next: drawn as a staircase of the stored points
  const x = [], y = [];
  curve.loss.forEach((l, i) => {
    const p = curve.p_exceed[i];
    if (i > 0) { x.push(100 * l); y.push(curve.p_exceed[i - 1]); }
    x.push(100 * l); y.push((log && p <= 0) ? null : p);
  });
  const opts = { title, width: Math.max(320, container.clientWidth || 600), height: 300,
    scales: { x: { time: false, range: (u, lo, hi) => [0, Math.max(hi * 1.05, 0.1)] }, y: log ? { distr: 3 } : { range: [0, 1] } },
    series: [{ label: "loss (%)" }, { label: "P(loss > x)", stroke: "#b91c1c", width: 2, points: { show: true, size: 4 } }],
    axes: [{ label: "loss of the target x (%)" }, { label: "P(loss > x)" + (log ? " (log)" : "") }] };
  const u = new uPlot(opts, [x, y], container);
  container.dataset.scale = log ? "log" : "linear";
  (window.__charts = window.__charts || {})[container.id] = u;
  return u;
}

async function montecarloRunPage(id) {
  let v;
  try { v = await api("/views/montecarlo/" + encodeURIComponent(id)); }
  catch (e) { if (e.status === 404) return notFound("No such Monte Carlo run (it does not exist, or it belongs to another organisation)."); throw e; }
  const title = `Monte Carlo run ${v.created_at ? v.created_at.slice(0, 16) : id}`;
  if (v.status === "queued" || v.status === "running") return progressPage(title, v, "#/montecarlo/" + id, () => montecarloRunPage(id).finally(() => { document.body.dataset.ready = location.hash; }));
  if (v.status !== "done" || !v.result) return page(title, h("p", { class: "error", text: `${v.status}${v.error ? ": " + v.error : ""}` }));
  const m = v.result;
  const kids = [h("p", { text: `${m.draws} draws of ${m.horizon_days} days (seed ${m.seed}), catalogue ${m.catalogue.name} (sha256 ${String(m.catalogue.sha256).slice(0, 12)}…), atlas ${m.atlas_version}, ${m.events_per_draw === null ? "–" : m.events_per_draw.toFixed(2)} events a draw; ${m.draws_without_events} draws without events.` + (m.complete ? "" : " Incomplete run (interrupted).") })];
  for (const w of m.warnings || []) kids.push(h("p", { class: "warn", role: "note", text: "Warning: " + w }));
  const charts = [];
  m.targets.forEach((t, i) => {
    const box = h("div", { class: "chart", id: `mc-curve-${i}` });
    charts.push([box, t]);
    const none = !t.curve.p_exceed.some(p => p > 0);
    kids.push(h("h2", { text: t.target }), h("h3", { text: "Loss exceedance curve (world total)" }),
      none ? h("p", { class: "legend", text: "No draw lost anything: the curve is a single point at zero loss." }) : null, box,
      h("h3", { text: "Risk measures (world total)" }),
      h("div", { id: `mc-risk-${i}` }, table([["Measure", r => MEASURES[r.measure] || r.measure],
        ["Level", r => r.level === null ? "–" : (r.measure === "p_exceed" ? `x = ${pctOf(r.level, 0)}` : String(r.level))],
        ["Value", r => r.measure === "p_exceed" ? r.value.toFixed(4) : pctOf(r.value)],
        ["Standard error", r => "± " + (r.measure === "p_exceed" ? r.se.toFixed(4) : pctOf(r.se))],
        ["Draws in the tail", r => r.tail_draws], ["Warning", r => r.warning ? h("span", { class: "warn", text: r.warning }) : "–"]], t.risk)));
    for (const [lvl, by] of Object.entries(t.contributions)) {
      kids.push(h("h3", { text: `What drives the tail: contributions to ES at ${lvl} (Euler allocation)` }),
        h("div", { class: "cols" }, ["kind", "hazard", "chokepoint"].map(b => h("section", { "aria-label": `by ${b}` },
          h("h4", { text: `by ${b === "kind" ? "event kind" : b}` }),
          (by[b] || []).length ? table([[b, r => r.name], ["ES contribution", r => pctOf(r.es_contribution)], ["Share of ES", r => pctOf(r.share, 1)]], by[b])
            : h("p", { text: "No loss in the tail." })))));
    }
    if (t.consumers.length) kids.push(h("h3", { text: "Expected loss by consumer country" }),
      table([["Consumer", r => r.consumer], ["Expected loss", r => pctOf(r.value)], ["Standard error", r => "± " + pctOf(r.se)]], t.consumers));
  });
  for (const n of m.notes || []) kids.push(h("p", { class: "legend", text: n }));
  kids.push(h("p", {}, h("a", { href: "#/plans", text: "Plan against this run's draws" }), " (Plans page, Monte Carlo run: this one)."));
  page(title, ...kids);
  for (const [box, t] of charts) exceedanceChart(box, t.curve, `${t.target}: P(loss > x)`);
}

function schemaOf(prop) { // the non-null alternative of an optional field's JSON Schema
  return (prop.anyOf || [prop]).find(x => x.type !== "null") || prop;
}

async function plansPage(id) {
  if (id) return planRunPage(id);
  const v = await api("/views/plans");
  const kids = [h("p", { text: "Optimization plans on the supply base (docs/planning.md): sourcing diversification, stockpile sizing, partner value, and the worst case. Empty fields take the planning service's defaults." })];
  if (me.role !== "viewer") {
    const model = h("select", { id: "plan-model" }, Object.keys(v.models).map(m => h("option", { value: m, text: m })));
    const fields = h("div", { id: "plan-fields", class: "grid" });
    const msg = h("p", { id: "plan-msg", role: "status" });
    const draw = () => {
      const kids2 = [];
      for (const name of v.models[model.value]) {
        const sc = schemaOf(v.fields[name]); const fid = "p-" + name;
        const label = h("label", { for: fid, text: name.replace(/_/g, " ") + (sc.type === "array" ? " (comma-separated)" : "") });
        let input;
        if (name === "montecarlo_run") input = h("select", { id: fid }, h("option", { value: "", text: "none (stress scenarios)" }),
          v.montecarlo_runs.map(r => h("option", { value: r.id, text: `${r.created_at.slice(0, 16)} (${r.draws} draws)` })));
        else if (sc.enum) input = h("select", { id: fid }, h("option", { value: "", text: "default" }), sc.enum.map(x => h("option", { value: x, text: x })));
        else if (sc.type === "number" || sc.type === "integer") input = h("input", { id: fid, type: "number", step: sc.type === "integer" ? 1 : "any", min: sc.minimum ?? sc.exclusiveMinimum, max: sc.maximum, placeholder: "default" });
        else input = h("input", { id: fid, placeholder: sc.type === "array" && sc.items && sc.items.enum ? sc.items.enum.join(", ") : "default" });
        input.dataset.kind = sc.type || "string";
        kids2.push(label, input);
      }
      fields.replaceChildren(...kids2);
    };
    model.addEventListener("change", draw); draw();
    const form = h("form", { id: "plan-form", "aria-label": "Solve a plan" },
      h("div", { class: "grid" }, h("label", { for: "plan-model", text: "Model" }), model), fields,
      h("button", { id: "plan-run", type: "submit", text: "Solve" }), msg);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = {};
      for (const el of fields.querySelectorAll("input, select")) {
        const raw = el.value.trim(); if (!raw) continue;
        const name = el.id.slice(2);
        body[name] = el.dataset.kind === "number" || el.dataset.kind === "integer" ? Number(raw)
          : el.dataset.kind === "array" ? raw.split(",").map(x => x.trim()).filter(Boolean) : raw;
      }
      try { const r = await api("/plans/" + model.value, { method: "POST", json: body }); location.hash = "#/plans/" + r.id; }
      catch (err) { msg.textContent = (err.body && err.body.field ? err.body.field + ": " : "") + err.message; }
    });
    kids.push(h("h2", { text: "New plan" }), form);
  } else kids.push(h("p", { text: "Viewers can read plans but not solve them." }));
  kids.push(h("h2", { text: "Your organisation's plans" }),
    v.runs.length ? table([["Plan", r => h("a", { href: "#/plans/" + r.id, text: `${r.model} (${r.created_at.slice(0, 16)})` })], ["Status", r => r.status],
      ["Scenarios", r => r.params.montecarlo_run ? "Monte Carlo run" : (r.params.scenarios || (r.model === "worst-case" ? "–" : "library"))],
      ["Headline", r => r.headline ? Object.entries(r.headline).slice(0, 4).map(([k, x]) => `${k.replace(/_/g, " ")}: ${cell(x)}`).join("; ") : "–"]], v.runs)
      : h("p", { text: "No plans yet." }));
  page("Plans", ...kids);
}

async function planRunPage(id) {
  let v;
  try { v = await api("/views/plans/" + encodeURIComponent(id)); }
  catch (e) { if (e.status === 404) return notFound("No such plan (it does not exist, or it belongs to another organisation)."); throw e; }
  const title = `Plan: ${v.params.model}`;
  if (v.status === "queued" || v.status === "running") return progressPage(title, v, "#/plans/" + id, () => planRunPage(id).finally(() => { document.body.dataset.ready = location.hash; }));
  if (v.status !== "done" || !v.result) return page(title, h("p", { class: "error", text: `${v.status}${v.error ? ": " + v.error : ""}` }));
  const p = v.result;
  const kids = [h("p", { text: `Atlas ${p.atlas_version}.` + (p.scenarios ? ` Scenarios: ${p.scenarios.label} (${p.scenarios.n}).` : "") }),
    h("h2", { text: "Headline" }), table([["Measure", r => r[0].replace(/_/g, " ")], ["Value", r => cell(r[1])]], Object.entries(p.headline), "Headline"),
    h("h2", { text: "Risk before and after" }),
    p.risk.length ? table([["Measure", r => r.measure], ["Before", r => cell(r.before)], ["After", r => cell(r.after)], ["Change", r => cell(r.change)]], p.risk, "Risk of the target (shortfall, 0–1)")
      : h("p", { text: "This model gives no before/after measure (see its table)." }),
    h("h2", { text: "The plan" })];
  for (const t of p.plan_tables) kids.push(h("h3", { text: t.name.replace(/_/g, " ") }), t.rows.length ? records(t) : h("p", { text: "nothing to do: the table is empty" }));
  kids.push(h("h2", { text: "Why: the planning module's explanation" }));
  for (const t of p.explain_tables) kids.push(h("h3", { text: t.name === "binding" ? "binding constraints" : t.name.replace(/_/g, " ") }), t.rows.length ? records(t) : h("p", { text: "none" }));
  if (p.notes.length) kids.push(h("h3", { text: "Notes" }), h("ul", { id: "plan-notes" }, p.notes.map(n => h("li", { text: n }))));
  for (const t of p.other_tables) kids.push(h("details", {}, h("summary", { text: t.name.replace(/_/g, " ") }), records(t)));
  kids.push(h("details", {}, h("summary", { text: "Parameters" }), h("pre", { text: JSON.stringify(p.parameters, null, 1) })));
  page(title, ...kids);
}

async function comparePage(a, b) {
  const [va, vb] = await Promise.all([a, b].map(id => api("/views/runs/" + encodeURIComponent(id))));
  const ca = h("div", { class: "chart" }), cb = h("div", { class: "chart" });
  page("Compare runs", h("div", { class: "cols" },
    h("section", {}, h("h2", { text: va.scenario }), runSummary(va), ca), h("section", {}, h("h2", { text: vb.scenario }), runSummary(vb), cb)));
  chart(ca, va.chart, va.scenario); chart(cb, vb.chart, vb.scenario);
}

async function backtestsPage() {
  page("Backtests", h("p", { text: "Running the reference events (first time only)…", role: "status" }));
  const v = await api("/views/backtests");
  page("Backtests", h("p", { text: `${v.checks_in} of ${v.checks} checks inside the observed range.` }),
    table([["Scenario", r => r.scenario], ["Check", r => `${r.kind} ${r.of}`], ["Measure", r => r.measure],
      ["Observed / expected range", r => `${fmt(r.min, 2)} – ${fmt(r.max, 2)}`], ["Model", r => fmt(r.model, 2)],
      ["In range", r => r.ok ? "yes" : h("strong", { text: "no" })], ["Why", r => r.why || "–"]], v.rows));
}

async function uploadsPage() {
  const v = await api("/uploads?limit=500");
  const kids = [table([["Name", r => r.name], ["Table", r => r.table], ["Rows", r => r.rows], ["Uploaded", r => r.created_at.slice(0, 19)]], v.items)];
  if (me.role !== "viewer") {
    const msg = h("p", { role: "status" });
    const form = h("form", { class: "grid", "aria-label": "Upload a table" },
      h("label", { for: "u-table", text: "Atlas table" }), h("select", { id: "u-table", name: "table" }, ["stocks", "sourcing", "production", "trade", "facilities", "firms", "restrictions", "dynamics"].map(x => h("option", { text: x }))),
      h("label", { for: "u-file", text: "File (.csv, .xlsx, .parquet)" }), h("input", { id: "u-file", name: "file", type: "file", required: true }),
      h("button", { type: "submit", text: "Upload" }), msg);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try { await api("/uploads", { method: "POST", body: new FormData(form) }); route(); }
      catch (err) { msg.textContent = err.body && err.body.problems ? err.body.problems.map(p => `${p.file}, row ${p.row}, column ${p.column}: ${p.reason}`).join("; ") : err.message; }
    });
    kids.push(h("h2", { text: "Upload confidential data" }), form);
  }
  page("Uploads (your organisation only)", ...kids);
}

async function keysPage() {
  const v = await api("/keys?limit=500");
  const shown = h("p", { id: "new-key", role: "status" });
  const form = h("form", { class: "grid", "aria-label": "Create an API key" },
    h("label", { for: "k-name", text: "Name" }), h("input", { id: "k-name", required: true }),
    h("button", { type: "submit", text: "Create key" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { const k = await api("/keys", { method: "POST", json: { name: document.getElementById("k-name").value } }); shown.textContent = `Your key (shown once): ${k.key}`; }
    catch (err) { shown.textContent = err.message; }
  });
  page("API keys", table([["Name", r => r.name], ["Role", r => r.role], ["Expires", r => r.expires_at.slice(0, 10)], ["Revoked", r => r.revoked ? "yes" : "no"]], v.items),
    h("h2", { text: "New key" }), form, shown);
}

async function auditPage() {
  if (me.role !== "admin") return notFound("The audit log is for organisation admins.");
  const v = await api("/audit?limit=200");
  page("Audit log", table([["#", r => r.seq], ["Time", r => r.at.slice(0, 19)], ["Actor", r => r.actor], ["Action", r => r.action], ["Target", r => r.target], ["From", r => r.client]], v.items));
}

function notFound(text) { page("404 — not found", h("p", { id: "not-found", text })); }

async function route() {
  clearTimeout(pollTimer);
  if (!me) return;
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === "#/" + name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  try {
    switch (name) {
      case "overview": case "": return await overviewPage();
      case "item": return await itemPage(rest[0]);
      case "network": return await networkPage();
      case "chokepoints": return await chokepointsPage(rest[0]);
      case "scenarios": return await scenariosPage();
      case "runs": return await runPage(rest[0]);
      case "compare": return await comparePage(rest[0], rest[1]);
      case "backtests": return await backtestsPage();
      case "uploads": return await uploadsPage();
      case "keys": return await keysPage();
      case "audit": return await auditPage();
      case "plans": return await plansPage(rest[0]);
      case "montecarlo": return await montecarloPage(rest[0]);
      default: return notFound(`No page '${name}'.`);
    }
  } catch (e) {
    if (e.status === 401) return;
    if (e.status === 404) return notFound(e.message);
    page("Error", h("p", { class: "error", role: "alert", text: e.message }));
  } finally {
    document.body.dataset.ready = location.hash; // the browser tests wait for this
  }
}

window.addEventListener("hashchange", () => { document.body.dataset.ready = ""; route(); });
document.getElementById("logout").addEventListener("click", async () => {
  const rt = sessionStorage.getItem("pxs_refresh");
  sessionStorage.removeItem("pxs_refresh"); access = null; me = null;
  if (rt) await fetch(API + "/auth/logout", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: rt }) });
  showLogin("Logged out.");
});
(async () => { if (await refresh()) await start(); else showLogin(); })();
