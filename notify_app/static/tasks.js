// The operators' task dashboard: every service's queues, tasks, dead letters and audit, read from
// each service's staff endpoints through the gateway (same origin). Values are written with
// textContent only: messages and errors may contain anything.
//
// Sign-in: a staff account with the operator or admin role (ui.js staffSignIn: POST /auth/token,
// a 15-minute token in sessionStorage, the form again when it runs out). The audit trail names
// the signed-in person: the services read the name from the token. The tab (and the application
// looked up) live in the address's fragment, so a new sign-in resumes there.
"use strict";
const SERVICES = ["loan", "credit", "property", "decision", "notify"];
const state = { running: false, tab: "overview", paused: false, timer: null };
let staff = null;  // ui.js staffSignIn

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value; else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function api(path, options = {}) {
  // A 401 brings the sign-in form back (staff.fetch) and rejects with error.expired: nothing to show.
  const response = await staff.fetch(path, { ...options,
    headers: options.body ? { "Content-Type": "application/json" } : {} });
  if (response.status === 403) throw new Error(`This account may not do this (${path}).`);
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    const fields = body.errors ? ` ${JSON.stringify(body.errors.json || body.errors)}` : "";
    throw new Error(`${path}: ${response.status}${body.message ? ` ${body.message}` : ""}${fields}`);
  }
  return response.json();
}

/** An operator's action (a button): any failure is shown in the view, not thrown away. */
function acting(work) {
  return async () => {
    try { await work(); } catch (error) { if (!error.expired) render(Promise.reject(error)); }
  };
}

function table(headers, rows) {
  return el("table", { class: "tb" }, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { text: h })))),
            el("tbody", {}, ...rows));
}

const ms = (v) => (v === null || v === undefined ? "—" : `${v} ms`);

async function overview() {
  const minutes = document.getElementById("window").value;
  const parts = await Promise.all(SERVICES.map((s) => api(`/${s}/tasks/overview?window_minutes=${minutes}`)));
  return parts.map((o) => el("div", { class: "tb-card", "data-testid": `service-${o.service}` },
    el("h2", { text: o.service }),
    table(["queue", "messages", "consumers", "unacked"], o.queues.map((q) => el("tr", { "data-testid": `queue-${q.queue}` },
      el("td", { text: q.queue }), el("td", { text: String(q.messages ?? "—") }),
      el("td", { text: String(q.consumers ?? "—"), class: q.consumers === 0 && !q.queue.includes(".") ? "warn" : "" }),
      el("td", { text: String(q.unacked ?? "—") })))),
    table(["actor", "ok/min", "failed attempts", "dead letters", "duration p50/p95/p99", "latency p50/p95/p99"],
      o.actors.map((a) => el("tr", {}, el("td", { text: a.actor }), el("td", { text: String(a.per_minute) }),
        el("td", { text: String(a.failed_attempts) }),
        el("td", { text: String(a.dead_letters), class: a.dead_letters ? "warn" : "" }),
        el("td", { text: `${ms(a.duration_p50_ms)} / ${ms(a.duration_p95_ms)} / ${ms(a.duration_p99_ms)}` }),
        el("td", { text: `${ms(a.latency_p50_ms)} / ${ms(a.latency_p95_ms)} / ${ms(a.latency_p99_ms)}` }))))));
}

function taskRows(tasks) {
  return tasks.map((t) => {
    const row = el("tr", { "data-testid": `task-row-${t.message_id}` },
      el("td", { text: (t.at || "").replace("T", " ").slice(0, 19) }), el("td", { text: t.service }),
      el("td", { text: t.actor }), el("td", { text: (t.application_id || "").slice(0, 8) }),
      el("td", { text: t.state, class: `tb-state-${t.state}` }), el("td", { text: String(t.attempts.length) }),
      el("td", { text: ms(t.duration_ms) }), el("td", { text: ms(t.latency_ms) }));
    row.addEventListener("click", () => render(detail(t)));
    return row;
  });
}

async function search(params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
  const lists = await Promise.all(SERVICES.map((s) => api(`/${s}/tasks?${query}`)
    .then((ts) => ts.map((t) => ({ ...t, service: s })))));
  return lists.flat().sort((a, b) => String(b.at).localeCompare(String(a.at)));
}

async function tasks() {
  const form = el("form", { class: "tb-bar" },
    el("select", { name: "state" }, ...["", "succeeded", "retrying", "dead"].map((s) => el("option", { value: s, text: s || "any state" }))),
    el("input", { name: "actor", placeholder: "actor, e.g. credit.check_credit" }),
    el("input", { name: "application_id", placeholder: "application id" }), el("button", { text: "Search" }));
  const holder = el("div");
  const run = async (event) => {
    if (event) event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    holder.replaceChildren(table(["time", "service", "actor", "application", "state", "attempts", "duration", "latency"],
      taskRows(await search(data))));
  };
  form.addEventListener("submit", (event) => run(event).catch((error) => {
    if (!error.expired) holder.replaceChildren(el("p", { class: "warn", text: error.message }));
  }));
  await run();
  return [el("div", { class: "tb-card" }, form, holder)];
}

function detail(task) {
  const card = el("div", { class: "tb-card", "data-testid": "task-detail" },
    el("h2", { text: `${task.actor} · ${task.state}` }), el("p", { text: `message ${task.message_id}` }));
  for (const attempt of task.attempts) {
    card.append(el("details", {}, el("summary", { text: `attempt ${attempt.attempt} · ${attempt.outcome} · ${attempt.error}` }),
      el("pre", { class: "tb-trace", text: attempt.traceback || "" })));
  }
  if (task.dead_letter) card.append(letterActions(task.service, task.dead_letter));
  return [card];
}

function letterActions(service, letter) {
  const act = (action) => acting(async () => {
    if (!confirm(`${action} this message?`)) return;
    await api(`/${service}/dead-letters/${letter.id}/${action}`, { method: "POST" });
    render(deadLetters());
  });
  return el("span", {}, el("b", { text: ` ${letter.status} ` }),
    ...(letter.status === "PARKED" ? [el("button", { text: "Replay", "data-testid": `replay-${letter.id}`, onclick: act("replay") }),
      el("button", { text: "Discard", "data-testid": `discard-${letter.id}`, onclick: act("discard") })] : []));
}

/** Replay or discard, on one service, every parked letter a filter selects (POST /<svc>/dead-letters/batch).
 *  "Count" is a dry run; the card is kept across refreshes of the view so that its result stays. */
function batchForm() {
  const field = (name, placeholder, type = "text") => el("input", { name, placeholder, type, "data-testid": `batch-${name}` });
  const form = el("form", { class: "tb-bar", "data-testid": "batch-form" },
    el("select", { name: "service", "data-testid": "batch-service" }, ...SERVICES.map((s) => el("option", { value: s, text: s }))),
    field("actor", "actor (exact)"), field("error_contains", "error contains"),
    el("label", { text: "since " }, field("since", "", "datetime-local")),
    el("label", { text: "until " }, field("until", "", "datetime-local")), field("application_id", "application id"));
  const result = el("p", { "data-testid": "batch-result", role: "status" });
  const send = (action, dryRun) => async () => {
    const data = Object.fromEntries(new FormData(form));
    const filter = {};
    for (const key of ["actor", "error_contains", "application_id"]) if (data[key].trim()) filter[key] = data[key].trim();
    for (const key of ["since", "until"]) if (data[key]) filter[key] = new Date(data[key]).toISOString();  // local time
    const what = Object.keys(filter).length ? `the parked letters matching ${JSON.stringify(filter)}` : "EVERY parked letter";
    if (!dryRun && !confirm(`${action} ${what} of ${data.service}?`)) return;
    try {
      const answer = await api(`/${data.service}/dead-letters/batch`, { method: "POST",
        body: JSON.stringify({ action, filter, dry_run: dryRun }) });
      const beyond = answer.remaining ? `, ${answer.remaining} beyond the limit of one run` : "";
      result.textContent = dryRun ? `${data.service}: ${answer.matched} parked letter(s) match${beyond}`
        : `${data.service}: ${action} done for ${answer.done} of ${answer.matched}${beyond}`
          + (answer.skipped ? `, ${answer.skipped} skipped (settled meanwhile or failed)` : "");
      if (!dryRun) render(deadLetters());
    } catch (error) { if (!error.expired) result.textContent = error.message; }
  };
  form.addEventListener("submit", (event) => event.preventDefault());
  form.append(el("button", { type: "button", text: "Count", "data-testid": "batch-count", onclick: send("replay", true) }),
    el("button", { type: "button", text: "Replay all", "data-testid": "batch-replay", onclick: send("replay", false) }),
    el("button", { type: "button", text: "Discard all", "data-testid": "batch-discard", onclick: send("discard", false) }));
  return el("div", { class: "tb-card", "data-testid": "batch" }, el("h2", { text: "Batch" }), form, result);
}

let batchCard = null;  // batchForm(), kept while signed in

async function deadLetters() {
  batchCard = batchCard || batchForm();
  const cards = [batchCard];
  for (const service of SERVICES) {
    const [letters, actions] = await Promise.all([api(`/${service}/dead-letters?status=PARKED`), api(`/${service}/operator-actions`)]);
    const purge = el("button", { text: `Purge ${service}'s dead letters`, onclick: acting(async () => {
      if (!confirm(`Discard every parked dead letter of ${service}?`)) return;
      await api(`/${service}/dead-letters/purge`, { method: "POST" }); render(deadLetters()); }) });
    cards.push(el("div", { class: "tb-card" }, el("h2", { text: `${service}: ${letters.length} parked` }),
      table(["parked", "actor", "application", "error", ""], letters.map((l) => el("tr", {},
        el("td", { text: l.parked_at.replace("T", " ").slice(0, 19) }), el("td", { text: l.actor }),
        el("td", { text: (l.application_id || "").slice(0, 8) }), el("td", { text: l.error || "" }),
        el("td", {}, letterActions(service, l))))),
      letters.length ? purge : "",
      el("div", { "data-testid": `audit-${service}` }, table(["when", "operator", "action", "target"], actions.map((a) => el("tr", {},
        el("td", { text: a.at.replace("T", " ").slice(0, 19) }), el("td", { text: a.operator }),
        el("td", { text: a.action }), el("td", { text: a.target })))))));
  }
  return cards;
}

async function application() {
  const id = decodeURIComponent((location.hash.split("/")[2] || ""));
  const input = el("input", { placeholder: "application id", value: id, size: 40 });
  const holder = el("div", { "data-testid": "application-tasks" });
  const form = el("form", { class: "tb-bar" }, input, el("button", { text: "Show every task" }));
  const run = async (event) => {
    if (event) event.preventDefault();
    const wanted = input.value.trim();
    if (!wanted) return;
    history.replaceState(null, "", `#/application/${encodeURIComponent(wanted)}`);  // resumed after a sign-in
    holder.replaceChildren(table(["time", "service", "actor", "application", "state", "attempts", "duration", "latency"],
      taskRows(await search({ application_id: wanted }))));
  };
  form.addEventListener("submit", (event) => run(event).catch((error) => {
    if (!error.expired) holder.replaceChildren(el("p", { class: "warn", text: error.message }));
  }));
  await run();
  return [el("div", { class: "tb-card" }, form, holder)];
}

const VIEWS = { overview, tasks, dead: deadLetters, application };

let renders = 0;
async function render(viewPromise) {
  // Only the latest render may fill the view: an older one finishing late must not replace it.
  const mine = ++renders;
  const view = document.getElementById("view");
  let children;
  try { children = await viewPromise; } catch (error) {
    if (error.expired) return;  // the sign-in form is back
    children = [el("p", { class: "warn", text: error.message })];
  }
  if (mine === renders && state.running) view.replaceChildren(...children);
}

function show(tab) {
  state.tab = tab;
  document.querySelectorAll("[data-tab]").forEach((b) => b.classList.toggle("active", b.dataset.tab === tab));
  render(VIEWS[tab]());
}

function schedule() {
  clearInterval(state.timer);
  state.timer = setInterval(() => { if (!state.paused && state.tab === "overview") render(overview()); }, 5000);
  document.querySelector("[data-testid=refresh]").textContent = state.paused ? "paused" : "auto-refresh 5 s";
}

/** Show the dashboard for a session, on the tab of the address (where the user was). */
function start() {
  state.running = true;
  document.getElementById("app").hidden = false;
  const tab = (location.hash.split("/")[1] || "overview");
  show(VIEWS[tab] ? tab : "overview");
  schedule();
}

/** The session is over (expired, or signed out): hide everything read with it and stop refreshing. */
function stop() {
  state.running = false;
  batchCard = null;  // its filter and result belong to the session that ends
  renders += 1;  // a render still on its way fills nothing
  clearInterval(state.timer);
  document.querySelector("[data-testid=refresh]").textContent = "paused";
  document.getElementById("app").hidden = true;
  document.getElementById("view").replaceChildren();
}

document.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => { location.hash = `#/${b.dataset.tab}`; show(b.dataset.tab); }));
document.getElementById("pause").addEventListener("click", () => { state.paused = !state.paused; schedule(); });
document.getElementById("window").addEventListener("change", () => state.tab === "overview" && render(overview()));
staff = window.loanflowUi.staffSignIn({ roles: ["operator"], start, stop });
