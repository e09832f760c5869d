/* The loan officers' live dashboard.
 *
 * Sign-in: a staff account with the officer, supervisor or admin role (ui.js staffSignIn: POST /auth/token,
 * a 15-minute token in sessionStorage, the form again when it runs out; the user's filters and
 * open panel are kept for when the same person signs in again).
 *
 * Data: the staff list GET /notify/applications (first page of 100, newest first), then the staff
 * WebSocket /notify/ws?ticket=… (a single-use ticket fetched with the staff token for every
 * connection: ui.js liveTicket) ({"type": "snapshot"} per recent application on connect, then
 * {"type": "status"} per change, {"type": "heartbeat"} when idle). A row is only ever moved
 * forward: an update whose seq is older than what the row shows is ignored, so the list, the
 * snapshot and live changes can arrive in any order. The timeline panel reads
 * GET /notify/applications/<id>/notifications and then follows the same WebSocket.
 *
 * The referral queue (referrals.js: borderline applications two officers decide) is a panel of
 * this page; the WebSocket tells it when an application enters or leaves REFERRED.
 *
 * Every value from the server is written with textContent (no HTML is built from data).
 */
(function () {
  "use strict";

  var STATUSES = ["SUBMITTED", "EVALUATING", "DECIDING", "INFO_REQUESTED", "REFERRED", "APPROVED", "REJECTED",
    "WITHDRAWN", "FAILED", "EXPIRED"];
  var EMPLOYMENT = {
    permanent: "Permanent", fixed_term: "Fixed-term", self_employed: "Self-employed",
    unemployed: "Unemployed", retired: "Retired"
  };
  var dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "medium" });
  var timeOnly = new Intl.DateTimeFormat("en-GB", { timeStyle: "medium" });

  var staff = null;             // ui.js staffSignIn: the session, the sign-in form, 401s
  var token = null;             // the session's token while the page runs (null: signed out or expired)
  var signedInAs = "";          // whose session the rows were loaded in
  var resumeId = null;          // the application whose panel was open when the session ended
  var records = new Map();      // application_id -> {application_id, status, summary, reasons, seq, since}
  var rows = new Map();         // application_id -> <tr>
  var socket = null;
  var reconnectTimer = null;
  var attempts = 0;
  var liveRound = 0;            // bumped by every connect and stop: a late ticket opens nothing
  var selected = null;          // the application shown in the panel
  var timeline = new Map();     // seq -> event of the selected application
  var timelineLoaded = false;
  var referrals = null;         // referrals.js: the referral queue panel

  // ---------------------------------------------------------------- helpers

  var ui = window.loanflowUi;  // ui.js: shared DOM and format helpers
  var $ = ui.$, h = ui.h, statusLabel = ui.statusLabel, capitalise = ui.capitalise, money = ui.money,
    percent = ui.percent;

  function badge(status, testid, extraClass) {
    return h("span", { class: "badge" + (extraClass ? " " + extraClass : ""), "data-status": status || "",
      "data-testid": testid, text: statusLabel(status) });
  }

  function shortId(id) { return String(id).slice(0, 8); }

  function duration(months) {
    var m = Number(months);
    if (!m) { return "—"; }
    if (m % 12 === 0) { return m / 12 + (m === 12 ? " year" : " years"); }
    return m + " months";
  }

  function parseTime(text) {
    var t = Date.parse(text);
    return isNaN(t) ? Date.now() : t;
  }

  function ago(since) {
    var s = Math.max(0, Math.round((Date.now() - since) / 1000));
    if (s < 60) { return s + " s"; }
    var m = Math.floor(s / 60);
    if (m < 60) { return m + " min " + String(s % 60).padStart(2, "0") + " s"; }
    var hours = Math.floor(m / 60);
    if (hours < 24) { return hours + " h " + (m % 60) + " min"; }
    var days = Math.floor(hours / 24);
    return days + " d " + (hours % 24) + " h";
  }

  function formatWhen(ms) {
    var d = new Date(ms);
    return new Date().toDateString() === d.toDateString() ? timeOnly.format(d) : dateTime.format(d);
  }

  function api(path, init) { return staff.fetch(path, init); }

  // ---------------------------------------------------------------- session

  /** Show the page for a session; a new sign-in of the same person resumes where they were. */
  function start(session) {
    if (session.username !== signedInAs) { forget(); }
    signedInAs = session.username;
    token = session.token;
    $("app").hidden = false;
    $("connection").hidden = false;
    if (!records.size) {
      $("empty").firstChild.textContent = "Loading applications…";
      $("empty").hidden = false;
    }
    connect();
    loadList();
    referrals.start();
    if (resumeId) { openPanel(resumeId); }
    resumeId = null;
  }

  /** The session is over (expired, refused, or signed out: `forgetAll`): hide the page, stop the stream. */
  function stop(forgetAll) {
    token = null;
    stopSocket();
    referrals.stop();
    if (selected) { resumeId = selected; }
    closePanel();
    $("app").hidden = true;
    $("connection").hidden = true;
    if (forgetAll) { forget(); }
  }

  /** Drop every row and the place in the page (another person signs in, or the user signed out). */
  function forget() {
    records.clear();
    rows.clear();
    $("rows").textContent = "";
    resumeId = null;
    signedInAs = "";
    $("filter-status").value = "";
    $("filter-text").value = "";
    render();
  }

  /** A 403: the account's role does not admit this page (the sign-in checked it; roles can change). */
  function refused() { staff.signOut(ui.signInMessages.role); }

  // ---------------------------------------------------------------- data

  function loadList() {
    api("/notify/applications?page=1&page_size=100").then(function (response) {
      if (response.status === 403) { refused(); return null; }
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (items) {
      if (!items || !token) { return; }
      items.forEach(function (item) {
        apply({ application_id: item.application_id, status: item.status, summary: item.summary,
          reasons: item.reasons, seq: item.last_seq, at: item.updated_at }, false);
      });
      render();
    }).catch(function (error) {
      if (error.expired || !token) { return; } // the sign-in form is back
      $("empty").firstChild.textContent = "The list could not be loaded; live updates continue.";
      setTimeout(function () { if (token) { loadList(); } }, 5000);
    });
  }

  /** Merge one state of an application; true if the row changed. */
  function apply(state, live) {
    if (!state || !state.application_id || !state.status) { return false; }
    var id = state.application_id;
    var seq = Number(state.seq) || 0;
    var current = records.get(id);
    if (current && seq <= current.seq) {
      if (seq === current.seq && state.summary && !Object.keys(current.summary).length) {
        current.summary = state.summary;
        update(current, false);
      }
      return false;
    }
    var record = {
      application_id: id,
      status: state.status,
      summary: (state.summary && Object.keys(state.summary).length) ? state.summary : (current ? current.summary : {}),
      reasons: state.reasons || [],
      seq: seq,
      since: parseTime(state.at)
    };
    records.set(id, record);
    update(record, live && !!current);
    if (live && !current) { flash(rows.get(id)); }
    return true;
  }

  // ---------------------------------------------------------------- table

  function cell(cls, children) { return h("td", { class: cls }, children); }

  function update(record, changed) {
    var id = record.application_id;
    var s = record.summary || {};
    var tr = rows.get(id);
    if (!tr) {
      tr = h("tr", { "data-testid": "row-" + id, "data-id": id, tabindex: "0" });
      tr.addEventListener("click", function () { openPanel(id); });
      tr.addEventListener("keydown", function (e) { if (e.key === "Enter") { openPanel(id); } });
      rows.set(id, tr);
    }
    var reasons = (record.reasons || []).length
      ? h("div", { class: "reasons", "data-testid": "reasons-" + id }, record.reasons.map(function (r) {
        return h("span", { class: "reason-chip", title: r.message || r.code, text: r.code || "?" });
      }))
      : h("span", { class: "none", text: "—" });
    tr.textContent = "";
    tr.appendChild(cell("id", [h("code", { title: id, text: shortId(id) })]));
    tr.appendChild(cell("status", [badge(record.status, "status-" + id)]));
    tr.appendChild(cell("num", [money(s.amount)]));
    tr.appendChild(cell("num col-optional", [duration(s.duration_months)]));
    tr.appendChild(cell("city", [s.city || "—", s.postcode ? h("span", { class: "postcode", text: s.postcode }) : null]));
    tr.appendChild(cell("employment col-optional", [EMPLOYMENT[s.employment_status] || s.employment_status || "—"]));
    tr.appendChild(cell("reasons-cell", [reasons]));
    tr.appendChild(h("td", { class: "ago", "data-since": String(record.since), title: dateTime.format(new Date(record.since)),
      "data-testid": "since-" + id, text: ago(record.since) }));
    tr.dataset.status = record.status;
    tr.classList.toggle("selected", selected === id);
    if (changed) { flash(tr); }
    if (selected === id) { renderPanelHead(); }
  }

  function flash(tr) {
    if (!tr) { return; }
    tr.classList.remove("flash");
    void tr.offsetWidth; // restart the animation
    tr.classList.add("flash");
  }

  var renderPending = false;
  function scheduleRender() {
    if (renderPending) { return; }
    renderPending = true;
    requestAnimationFrame(function () { renderPending = false; render(); });
  }

  /** Order (newest change first), filters, counters. */
  function render() {
    var tbody = $("rows");
    var ordered = Array.from(records.values()).sort(function (a, b) { return b.since - a.since || b.seq - a.seq; });
    var wantStatus = $("filter-status").value;
    var text = $("filter-text").value.trim().toLowerCase();
    var shown = 0;
    ordered.forEach(function (record, index) {
      var tr = rows.get(record.application_id);
      if (tbody.children[index] !== tr) { tbody.insertBefore(tr, tbody.children[index] || null); }
      var s = record.summary || {};
      var visible = (!wantStatus || record.status === wantStatus) &&
        (!text || record.application_id.toLowerCase().indexOf(text) !== -1 ||
          String(s.city || "").toLowerCase().indexOf(text) !== -1 ||
          String(s.postcode || "").indexOf(text) !== -1);
      tr.hidden = !visible;
      if (visible) { shown += 1; }
    });
    var empty = $("empty");
    empty.hidden = shown > 0;
    if (!shown) {
      empty.firstChild.textContent = records.size ? "No application matches these filters." : "No applications yet.";
    }
    $("shown-count").textContent = shown === records.size
      ? records.size + (records.size === 1 ? " application" : " applications")
      : shown + " of " + records.size + " applications";
    renderCounters(wantStatus);
  }

  function renderCounters(active) {
    var counts = {};
    records.forEach(function (r) { counts[r.status] = (counts[r.status] || 0) + 1; });
    var box = $("counters");
    if (!box.children.length) {
      ["ALL"].concat(STATUSES).forEach(function (status) {
        var button = h("button", { type: "button", class: "counter", "data-status": status,
          "data-testid": "count-" + status, title: status === "ALL" ? "Show every status" : "Show only " + statusLabel(status) },
        [h("span", { class: "n", text: "0" }), h("span", { class: "label", text: status === "ALL" ? "All" : capitalise(statusLabel(status).toLowerCase()) })]);
        button.addEventListener("click", function () {
          $("filter-status").value = status === "ALL" || $("filter-status").value === status ? "" : status;
          render();
        });
        box.appendChild(button);
      });
    }
    Array.prototype.forEach.call(box.children, function (button) {
      var status = button.dataset.status;
      var n = status === "ALL" ? records.size : (counts[status] || 0);
      button.firstChild.textContent = String(n);
      button.firstChild.classList.toggle("zero", !n);
      button.classList.toggle("active", status === "ALL" ? !active : active === status);
    });
  }

  function tick() {
    Array.prototype.forEach.call(document.querySelectorAll("td.ago[data-since]"), function (td) {
      td.textContent = ago(Number(td.dataset.since));
    });
  }

  // ---------------------------------------------------------------- live

  function setConnection(state, text) {
    var el = $("connection");
    el.dataset.state = state;
    el.textContent = text;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    if (!token) { return; }
    setConnection(attempts ? "reconnecting" : "connecting", attempts ? "Reconnecting…" : "Connecting…");
    var round = ++liveRound;
    var used = token;
    ui.liveTicket(used).then(function (ticket) {
      if (round === liveRound) { openSocket(ticket); }
    }, function (error) {
      if (round !== liveRound) { return; } // stopped or replaced meanwhile
      if (error.status === 401) { staff.expire(used); return; }
      if (error.status === 403) { refused(); return; }
      retryLater();
    });
  }

  function retryLater() {
    attempts += 1;
    var delay = Math.min(30000, 1000 * Math.pow(2, Math.min(attempts - 1, 5))) * (0.75 + Math.random() * 0.5);
    setConnection("reconnecting", "Reconnecting…");
    reconnectTimer = setTimeout(connect, delay);
  }

  function openSocket(ticket) {
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + location.host + "/notify/ws?ticket=" + encodeURIComponent(ticket));
    socket = ws;
    var opened = 0;
    ws.onopen = function () {
      opened = Date.now();
      setConnection("live", "Live");
      if (attempts && selected) { loadTimeline(selected); } // fill whatever the panel missed
      if (attempts) { loadList(); }
      attempts = 0;
    };
    ws.onmessage = function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (data.type === "heartbeat") { return; }
      if (data.type === "snapshot" || data.type === "status") {
        if (apply(data, true)) { scheduleRender(); }
        if (data.type === "status" && data.application_id === selected) { addEvent(data, true); }
        if (data.type === "status" && (data.status === "REFERRED" || data.previous_status === "REFERRED")) {
          referrals.changed();
        }
      }
    };
    ws.onclose = function (event) {
      if (socket !== ws) { return; } // replaced or stopped on purpose
      socket = null;
      // 4401: the ticket was refused (expired on the way, say); the next one is asked for with
      // the staff token, which is what decides whether to sign out.
      if (opened && Date.now() - opened > 10000) { attempts = 0; }
      retryLater();
    };
  }

  function stopSocket() {
    clearTimeout(reconnectTimer);
    liveRound += 1; // a ticket still on its way opens nothing
    attempts = 0;
    var ws = socket;
    socket = null;
    if (ws) { ws.close(1000, "bye"); }
    setConnection("offline", "Offline");
  }

  // ---------------------------------------------------------------- timeline panel

  function openPanel(id) {
    selected = id;
    timeline = new Map();
    timelineLoaded = false;
    rows.forEach(function (tr, rowId) { tr.classList.toggle("selected", rowId === id); });
    $("panel").hidden = false;
    document.body.classList.add("panel-open");
    $("panel-error").hidden = true;
    $("timeline").textContent = "";
    $("timeline").appendChild(h("li", { class: "loading", text: "Loading the timeline…" }));
    renderPanelHead();
    loadTimeline(id);
  }

  function closePanel() {
    selected = null;
    $("panel").hidden = true;
    document.body.classList.remove("panel-open");
    rows.forEach(function (tr) { tr.classList.remove("selected"); });
  }

  function renderPanelHead() {
    var record = records.get(selected) || { summary: {} };
    var s = record.summary || {};
    $("panel-title").textContent = "Application " + shortId(selected);
    $("panel-id").textContent = selected;
    var status = $("panel-status");
    status.textContent = "";
    if (record.status) { status.appendChild(badge(record.status, "panel-status")); }
    var facts = $("panel-facts");
    facts.textContent = "";
    [["Amount", money(s.amount)], ["Duration", duration(s.duration_months)],
      ["Property", [s.kind ? s.kind.charAt(0).toUpperCase() + s.kind.slice(1) : null, s.city, s.postcode].filter(Boolean).join(" · ") || "—"],
      ["Employment", EMPLOYMENT[s.employment_status] || s.employment_status || "—"]].forEach(function (pair) {
      facts.appendChild(h("div", {}, [h("dt", { text: pair[0] }), h("dd", { text: pair[1] })]));
    });
  }

  function loadTimeline(id) {
    api("/notify/applications/" + encodeURIComponent(id) + "/notifications").then(function (response) {
      if (response.status === 403) { refused(); return null; }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (items) {
      if (!items || selected !== id) { return; }
      items.forEach(function (n) {
        var p = n.payload || {};
        addEvent({ application_id: n.application_id, seq: n.seq, status: n.status, previous_status: n.previous_status,
          at: n.at, cause: p.cause, reasons: p.reasons || [], offer: p.offer,
          requested_information: p.requested_information || [], deadline: p.deadline, review: p.review }, false, true);
      });
      timelineLoaded = true;
      renderTimeline(null);
    }).catch(function (error) {
      if (selected !== id || error.expired) { return; }
      $("panel-error").hidden = false;
      $("panel-error").textContent = "The timeline could not be loaded (" + error.message + ").";
    });
  }

  function addEvent(event, live, quiet) {
    var seq = Number(event.seq);
    if (!seq || timeline.has(seq)) { return; }
    timeline.set(seq, event);
    if (quiet || !timelineLoaded) { return; }
    var highest = Math.max.apply(null, Array.from(timeline.keys()));
    var missing = false;
    for (var i = 1; i < highest; i += 1) { if (!timeline.has(i)) { missing = true; } }
    if (missing) { loadTimeline(selected); }
    renderTimeline(live ? seq : null);
  }

  function renderTimeline(freshSeq) {
    var list = $("timeline");
    list.textContent = "";
    var events = Array.from(timeline.values()).sort(function (a, b) { return a.seq - b.seq; });
    if (!events.length) { list.appendChild(h("li", { class: "loading", text: "No status change logged yet." })); }
    events.forEach(function (e) {
      var when = parseTime(e.at);
      var li = h("li", { "data-testid": "event-" + e.seq, "data-status": e.status, class: e.seq === freshSeq ? "fresh" : "" }, [
        h("div", { class: "event" }, [
          h("div", { class: "event-head" }, [
            badge(e.status, "event-status-" + e.seq),
            h("time", { datetime: e.at, title: dateTime.format(new Date(when)), text: formatWhen(when) }),
            e.previous_status ? h("span", { class: "muted small", text: "from " + statusLabel(e.previous_status) }) : null
          ]),
          e.cause ? h("p", { class: "event-cause", text: capitalise(e.cause) }) : null,
          details(e)
        ])
      ]);
      list.appendChild(li);
      if (e.seq === freshSeq) { li.scrollIntoView({ block: "nearest", behavior: "smooth" }); }
    });
  }

  function details(e) {
    var parts = [];
    if (e.status === "APPROVED" && e.offer) {
      parts.push(h("div", { class: "offer-mini", "data-testid": "event-offer-" + e.seq }, [
        h("div", {}, [h("b", { text: money(e.offer.monthly_payment, true) }), h("span", { text: "per month" })]),
        h("div", {}, [h("b", { text: percent(e.offer.annual_rate) }), h("span", { text: "annual rate" })]),
        h("div", {}, [h("b", { text: money(e.offer.total_cost, true) }), h("span", { text: "total cost" })])
      ]));
    }
    if ((e.reasons || []).length && e.status !== "APPROVED") {
      parts.push(h("ul", { "data-testid": "event-reasons-" + e.seq }, e.reasons.map(function (r) {
        return h("li", {}, [h("span", { class: "reason-chip", text: r.code || "?" }), r.message || ""]);
      })));
    }
    if (e.status === "INFO_REQUESTED" && (e.requested_information || []).length) {
      parts.push(h("div", { class: "k", text: "Requested from the applicant:" }));
      parts.push(h("ul", { "data-testid": "event-requested-" + e.seq }, e.requested_information.map(function (item) {
        return h("li", {}, [h("code", { text: item.name }), " — ", item.description || ""]);
      })));
    }
    var answer = e.status === "INFO_REQUESTED";
    var deadline = e.deadline ? h("div", { class: "deadline" + (answer ? " answer" : ""),
      text: (answer ? "Answer due by " : "Step due by ") + dateTime.format(new Date(parseTime(e.deadline))) }) : null;
    if (e.status === "REFERRED" && e.review && e.review.due_at) {
      deadline = h("div", { class: "deadline answer", "data-testid": "event-review-due-" + e.seq,
        text: "Officers' review due by " + dateTime.format(new Date(parseTime(e.review.due_at))) });
    }
    if (!parts.length) { return deadline; }
    if (deadline) { parts.push(deadline); }
    return h("div", { class: "event-detail" }, parts);
  }

  // ---------------------------------------------------------------- wiring

  document.addEventListener("DOMContentLoaded", function () {
    STATUSES.forEach(function (status) {
      $("filter-status").appendChild(h("option", { value: status, text: statusLabel(status) }));
    });
    $("filter-status").addEventListener("change", render);
    $("filter-text").addEventListener("input", render);
    $("panel-close").addEventListener("click", closePanel);
    document.addEventListener("keydown", function (e) { if (e.key === "Escape" && selected) { closePanel(); } });
    setInterval(tick, 1000);
    renderCounters("");

    referrals = window.loanflowReferrals.create({ fetch: api, username: function () { return signedInAs; } });
    staff = ui.staffSignIn({ roles: ["officer", "supervisor"], start: start, stop: stop });
  });
})();
