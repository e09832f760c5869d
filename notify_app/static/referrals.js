/* The officers' referral queue, a panel of the officers' dashboard (dashboard.js creates it).
 *
 * The policy refers the applications close to a limit to officers instead of deciding them: one
 * officer claims a referral and proposes a decision, a second officer confirms it or sends it
 * back (four eyes). The queue is GET /loan/referrals (soonest due first); the actions are
 * POST /loan/applications/<id>/review/claim, …/review (a proposal), …/review/confirm and
 * …/review/send-back. Every answer says which of three states the action reached, and the card
 * (and the queue's status line, which outlives a card that left the queue) says it in words:
 * "Done", "Waiting for a second officer", or "Refused: <the server's reason>". The server alone
 * decides who may do what (self-confirmation, someone else's claim, escalation): the buttons only
 * follow the review's state, so a refusal is shown, never guessed.
 *
 * The queue is read again after every action, when the dashboard's live channel reports a status
 * change into or out of REFERRED (changed()), and every 10 s (due times move, other officers act).
 * A card is rebuilt only when its referral changed, and a form being filled in is kept across
 * rebuilds, so a refresh never takes away what an officer is typing.
 *
 * Every value from the server is written with textContent (no HTML is built from data).
 */
(function () {
  "use strict";

  var REFRESH_MS = 10000;
  var TIMING = { on_time: "On time", at_risk: "At risk", overdue: "Overdue" };
  var OUTCOME = { done: "Done", waiting_for_second_officer: "Waiting for a second officer" };
  var ACTIONS = { claim: "claimed", propose: "proposed", confirm: "confirmed", "send-back": "sent back" };
  var ui = window.loanflowUi;
  var $ = ui.$, h = ui.h, money = ui.money, percent = ui.percent, capitalise = ui.capitalise;
  var dateTime = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short" });

  /**
   * The queue panel. options.fetch(path, init): the staff session's fetch (ui.js staffSignIn);
   * options.username(): who is signed in (to say "you" on the cards).
   */
  function create(options) {
    var running = false;
    var timer = null;
    var pending = null;          // a queued refresh (several live events in a row read the queue once)
    var loading = false;
    var again = false;
    var items = new Map();       // id -> referral, as last read
    var cards = new Map();       // id -> {json, el}
    var forms = new Map();       // id -> {kind, el}: an open form, kept across rebuilds
    var outcomes = new Map();    // id -> {kind, text}: the answer to this officer's last action
    var busy = new Set();        // ids with an action on its way

    $("referrals-filter").addEventListener("change", function () { show(); });

    function start() {
      running = true;
      $("referrals").hidden = false;
      refresh();
    }

    function stop() {
      running = false;
      clearTimeout(timer);
      clearTimeout(pending);
      items.clear();
      cards.clear();
      forms.clear();
      outcomes.clear();
      busy.clear();
      $("referral-list").textContent = "";
      say("");
      $("referrals").hidden = true;
    }

    /** A status change into or out of REFERRED arrived on the live channel. */
    function changed() {
      if (!running) { return; }
      clearTimeout(pending);
      pending = setTimeout(refresh, 250);
    }

    function refresh() {
      clearTimeout(timer);
      if (!running) { return; }
      if (loading) { again = true; return; }
      loading = true;
      options.fetch("/loan/referrals").then(function (response) {
        if (response.status === 403 || response.status === 404) { $("referrals").hidden = true; return null; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      }).then(function (list) {
        if (!list || !running) { return; }
        $("referrals").hidden = false;
        $("referrals-error").hidden = true;
        render(list);
      }).catch(function (error) {
        if (error.expired || !running) { return; }
        $("referrals-error").hidden = false;
        $("referrals-error").textContent = "The referral queue could not be loaded (" + error.message + "); retrying.";
      }).then(function () {
        loading = false;
        if (!running) { return; }
        if (again) { again = false; refresh(); return; }
        timer = setTimeout(refresh, REFRESH_MS);
      });
    }

    // ------------------------------------------------------------ rendering

    function render(list) {
      var box = $("referral-list");
      var seen = new Set();
      list.forEach(function (item, index) {
        seen.add(item.id);
        items.set(item.id, item);
        var json = JSON.stringify(item) + "|" + (busy.has(item.id) ? 1 : 0);
        var card = cards.get(item.id);
        if (!card || card.json !== json) {
          card = { json: json, el: card ? rebuild(card.el, item) : build(item) };
          cards.set(item.id, card);
        }
        if (box.children[index] !== card.el) { box.insertBefore(card.el, box.children[index] || null); }
      });
      cards.forEach(function (card, id) {
        if (seen.has(id)) { return; }
        card.el.remove();
        left(id);
        cards.delete(id);
        items.delete(id);
        forms.delete(id);
        outcomes.delete(id);
      });
      $("referrals-count").dataset.late = late() ? "true" : "false";
      show();
    }

    /** The filter (timing, escalation, review state; the same as GET /loan/referrals's), the counts. */
    function show() {
      var wanted = $("referrals-filter").value.split(":");
      var shown = 0;
      cards.forEach(function (card, id) {
        var item = items.get(id) || {};
        var value = wanted[0] === "state" ? (item.review || {}).state : String(item[wanted[0]]);
        card.el.hidden = !!wanted[0] && value !== wanted[1];
        if (!card.el.hidden) { shown += 1; }
      });
      var total = cards.size;
      $("referrals-count").textContent = (shown === total ? "" : shown + " of ") + total +
        (total === 1 ? " referral" : " referrals") + (late() ? ", " + late() + " overdue" : "");
      $("referrals-empty").hidden = shown > 0;
      $("referrals-empty").textContent = total ? "No referral matches this filter." : "No referral is waiting for an officer.";
    }

    function late() {
      var n = 0;
      items.forEach(function (item) { if (item.timing === "overdue") { n += 1; } });
      return n;
    }

    /** Rebuild a card whose review, outcome or busy state changed (a form in it is kept). */
    function redraw(id) {
      var card = cards.get(id);
      var item = items.get(id);
      if (!card || !item) { return; }
      card.el = rebuild(card.el, item);
      card.json = "";  // the next read of the queue draws it again from the server's data
      show();
    }

    /** A new card for `item` in place of `old`. A keyboard user keeps their place: focus goes back
     * to the control of the same name (a kept form's field is the very same element), else to the
     * card's first button, else the card. Noted before building: moving the kept form blurs it. */
    function rebuild(old, item) {
      var active = document.activeElement;
      var inside = !!active && active !== document.body && old.contains(active);
      var name = inside ? active.getAttribute("data-testid") : null;
      var fresh = build(item);
      old.replaceWith(fresh);
      if (!inside) { return fresh; }
      var target = (name && fresh.querySelector("[data-testid='" + CSS.escape(name) + "']")) ||
        fresh.querySelector(".referral-actions button:not([disabled])") || fresh;
      target.focus();
      return fresh;
    }

    function build(item) {
      var id = item.id;
      var review = item.review || {};
      var el = h("article", { class: "referral", "data-testid": "referral-" + id, "data-id": id,
        "data-state": review.state || "", "data-timing": item.timing || "", "aria-label": "Referral " + shortId(id),
        tabindex: "-1" }, [
        head(item),
        dueLine(item),
        reasonList(item),
        figures(item),
        proposalLine(item),
        explanation(item),
        actions(item)
      ]);
      var form = forms.get(id);
      if (form) { el.appendChild(form.el); }
      var outcome = outcomes.get(id);
      el.appendChild(h("p", { class: "outcome", role: "status", "data-testid": "outcome-" + id,
        "data-outcome": outcome ? outcome.kind : null, hidden: !outcome, text: outcome ? outcome.text : "" }));
      return el;
    }

    function head(item) {
      var s = item.summary || {};
      var review = item.review || {};
      var what = [money(item.amount), months(item.duration_months), [s.kind ? capitalise(s.kind) : null, s.city]
        .filter(Boolean).join(" in "), employment(s.employment_status)].filter(Boolean).join(" · ");
      return h("div", { class: "referral-head" }, [
        h("code", { title: item.id, text: shortId(item.id) }),
        h("span", { class: "referral-what", "data-testid": "referral-what-" + item.id, text: what }),
        h("span", { class: "spacer" }),
        h("span", { class: "timing", "data-timing": item.timing, "data-testid": "timing-" + item.id,
          text: TIMING[item.timing] || item.timing || "—" }),
        item.escalated ? h("span", { class: "timing", "data-timing": "escalated", "data-testid": "escalated-" + item.id,
          title: item.escalated_at ? "Escalated " + when(item.escalated_at) : null, text: "Escalated" }) : null,
        h("span", { class: "review-state", "data-state": review.state, "data-testid": "review-state-" + item.id,
          text: holder(review) })
      ]);
    }

    function holder(review) {
      if (review.state === "OPEN") { return "Open: nobody holds it"; }
      if (review.state === "CLAIMED") { return "Claimed by " + who(review.claimed_by); }
      if (review.state === "PROPOSED") {
        return "Proposed by " + who(review.proposal && review.proposal.proposed_by) + ": waiting for a second officer";
      }
      return capitalise(String(review.state || "—").toLowerCase());
    }

    function dueLine(item) {
      var due = Date.parse(item.due_at);
      var left = isNaN(due) ? "" : due > Date.now() ? " (in " + span(due - Date.now()) + ")"
        : " (" + span(Date.now() - due) + " ago)";
      return h("p", { class: "referral-due", "data-testid": "due-" + item.id }, [
        "Due " + when(item.due_at) + left, h("span", { class: "muted", text: " · referred " + when(item.referred_at) })
      ]);
    }

    function reasonList(item) {
      var reasons = item.reasons || [];
      if (!reasons.length) { return null; }
      return h("ul", { class: "referral-reasons", "data-testid": "referral-reasons-" + item.id }, reasons.map(function (r) {
        return h("li", {}, [h("span", { class: "reason-chip", text: r.code || "?" }), r.message || ""]);
      }));
    }

    /** The figures an officer weighs first: DTI, LTV, score (from the decision's inputs). */
    function figures(item) {
      var inputs = (item.explanation || {}).inputs || {};
      var offer = item.offer || {};
      var pairs = [["Debt-to-income", percent(inputs.debt_to_income)], ["Loan-to-value", percent(inputs.loan_to_value)],
        ["Credit score", inputs.credit_score === undefined || inputs.credit_score === null ? "—" : String(inputs.credit_score)],
        ["Income used", money(inputs.monthly_income_used) === "—" ? "—" : money(inputs.monthly_income_used) + " / month"],
        ["Offer if approved", offer.monthly_payment ? money(offer.monthly_payment, true) + " / month at " +
          percent(offer.annual_rate || inputs.annual_rate) : "—"]];
      return h("dl", { class: "referral-figures", "data-testid": "figures-" + item.id }, pairs.map(function (pair) {
        return h("div", {}, [h("dt", { text: pair[0] }), h("dd", { text: pair[1] })]);
      }));
    }

    function proposalLine(item) {
      var p = (item.review || {}).proposal;
      if (!p) { return null; }
      var terms = p.decision === "APPROVE"
        ? "approve" + (p.amount ? " " + money(p.amount) : "") + (p.duration_months ? " over " + months(p.duration_months) : "")
        : "reject";
      return h("div", { class: "proposal", "data-testid": "proposal-" + item.id }, [
        h("b", { text: (p.proposed_by === options.username() ? "Your proposal" : "Proposal by " + (p.proposed_by || "—")) +
          ": " + terms + "." }),
        p.note ? h("p", { text: "“" + p.note + "”" }) : null,
        (p.reasons || []).length ? h("ul", {}, p.reasons.map(function (r) { return h("li", { text: r }); })) : null
      ]);
    }

    /** Every rule with its value and threshold, the bands hit, the policy, the review's history. */
    function explanation(item) {
      var x = item.explanation || {};
      var rules = x.rules || [];
      var bands = x.referral || [];
      var events = (item.review || {}).events || [];
      return h("details", { class: "explanation", "data-testid": "explanation-" + item.id }, [
        h("summary", { text: "Explanation and history" }),
        rules.length ? h("div", { class: "table-wrap" }, [h("table", { class: "rules" }, [
          h("thead", {}, [h("tr", {}, ["Rule", "Value", "Threshold", "Result"].map(function (title) {
            return h("th", { scope: "col", text: title });
          }))]),
          h("tbody", {}, rules.map(function (rule) {
            return h("tr", { "data-passed": String(!!rule.passed) }, [
              h("td", { text: humanise(rule.rule) }), h("td", { class: "num", text: figure(rule.rule, rule.value) }),
              h("td", { class: "num", text: figure(rule.rule, rule.threshold) }),
              h("td", { text: rule.passed ? "passed" : "failed" })
            ]);
          }))
        ])]) : null,
        bands.length ? h("p", { class: "bands" }, ["Close to a limit: "].concat(bands.map(function (band, index) {
          return (index ? "; " : "") + humanise(band.band) + " " + figure(band.band, band.value) + " (band " +
            figure(band.band, band.from) + " to " + figure(band.band, band.to) + ")";
        }))) : null,
        x.policy_version ? h("p", { class: "muted small", text: "Policy " + x.policy_version }) : null,
        events.length ? h("ol", { class: "review-events" }, events.map(function (e) {
          return h("li", { text: when(e.at) + ": " + e.action + " by " + who(e.by) + (e.note ? " — “" + e.note + "”" : "") });
        })) : null
      ]);
    }

    function actions(item) {
      var id = item.id;
      var review = item.review || {};
      var buttons = [];
      function button(kind, label, primary) {
        var b = h("button", { type: "button", class: "btn small" + (primary ? "" : " secondary"),
          "data-testid": kind + "-" + id, disabled: busy.has(id), text: label });
        b.addEventListener("click", function () { act(id, kind); });
        buttons.push(b);
      }
      var mine = review.claimed_by && review.claimed_by === options.username();
      if (review.state === "OPEN" || (review.state === "CLAIMED" && !mine)) { button("claim", "Claim", true); }
      if (review.state === "CLAIMED") { button("propose", "Propose…", mine); }
      if (review.state === "PROPOSED") {
        button("confirm", "Confirm", true);
        button("send-back", "Send back…", false);
      }
      return h("div", { class: "referral-actions" }, buttons);
    }

    // ------------------------------------------------------------ actions

    function act(id, kind) {
      if (kind === "propose" || kind === "send-back") { openForm(id, kind); return; }
      send(id, kind, kind === "claim" ? null : {});
    }

    function path(id, kind) {
      var base = "/loan/applications/" + encodeURIComponent(id) + "/review";
      return kind === "propose" ? base : base + "/" + kind;
    }

    /** POST one action; the answer's outcome goes on the card and on the queue's status line. */
    function send(id, kind, body, form) {
      busy.add(id);
      redraw(id);
      var init = { method: "POST" };
      if (body !== null) { init.headers = { "Content-Type": "application/json" }; init.body = JSON.stringify(body); }
      return options.fetch(path(id, kind), init).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          if (response.ok) {
            var text = OUTCOME[answer.outcome] || "Done";
            if (form) { forms.delete(id); }
            report(id, answer.outcome === "waiting_for_second_officer" ? "waiting" : "done",
              text, "You " + ACTIONS[kind] + " the review of " + shortId(id) + ": " + text + ".");
          } else {
            var reason = answer.message || "HTTP " + response.status;
            if (response.status === 422 && form) { reason = fieldErrors(form.el, answer) || reason; }
            report(id, "refused", "Refused: " + reason, "Refused: " + reason + " (" + shortId(id) + ")");
          }
        });
      }, function (error) {
        if (error.expired) { return; }
        report(id, "refused", "Refused: the server cannot be reached; try again.", "The server cannot be reached.");
      }).then(function () {
        busy.delete(id);
        redraw(id);
        refresh();
      });
    }

    function report(id, kind, text, line) {
      outcomes.set(id, { kind: kind, text: text });
      say(line, kind, id);
    }

    /** The queue's status line: the answer to this officer's last action (it outlives the card). */
    function say(text, kind, id) {
      var line = $("referrals-outcome");
      line.hidden = !text;
      line.textContent = text || "";
      line.dataset.outcome = kind || "";
      line.dataset.id = id || "";
    }

    /** A referral left the queue (decided or withdrawn): a refusal or a wait about it is stale now. */
    function left(id) {
      var line = $("referrals-outcome");
      if (line.dataset.id === id && line.dataset.outcome !== "done") {
        say(shortId(id) + " has left the queue: the officers' decision went on, or it was withdrawn.", "info", id);
      }
    }

    function fieldErrors(formEl, answer) {
      var fields = (answer.errors && answer.errors.json) || {};
      var words = [];
      Object.keys(fields).forEach(function (name) {
        var text = [].concat(fields[name]).join(" ");
        var input = formEl.querySelector("[name='" + CSS.escape(name) + "']");
        if (input) { input.classList.add("invalid"); input.setAttribute("aria-invalid", "true"); }
        words.push(humanise(name) + ": " + text);
      });
      return words.length ? (answer.message ? answer.message + " " : "") + words.join(" ") : "";
    }

    // ------------------------------------------------------------ forms

    function openForm(id, kind) {
      var open = forms.get(id);
      if (!open || open.kind !== kind) {
        forms.set(id, { kind: kind, el: kind === "propose" ? proposeForm(id) : sendBackForm(id) });
      }
      redraw(id);
      var first = forms.get(id).el.querySelector("select, textarea, input");
      if (first) { first.focus(); }
    }

    function closeForm(id) {
      var card = cards.get(id);
      forms.delete(id);
      redraw(id);
      var back = card && card.el.querySelector(".referral-actions button:not([disabled])");
      if (back) { back.focus(); }
    }

    function field(id, prefix, name, label, control, hint) {
      control.id = prefix + "-" + name + "-" + id;
      control.name = name;
      control.setAttribute("data-testid", prefix + "-" + name.replace(/_/g, "-") + "-" + id);
      return h("div", { class: "field" }, [h("label", { for: control.id, text: label }),
        hint ? h("p", { class: "hint", text: hint }) : null, control]);
    }

    function proposeForm(id) {
      var item = items.get(id) || {};
      var decision = h("select", {}, [h("option", { value: "APPROVE", text: "Approve" }),
        h("option", { value: "REJECT", text: "Reject" })]);
      var form = h("form", { class: "review-form", "data-testid": "propose-form-" + id, novalidate: true }, [
        field(id, "proposal", "decision", "Decision", decision),
        field(id, "proposal", "note", "Note for the second officer", h("textarea", { rows: "2", maxlength: "2000",
          required: true })),
        field(id, "proposal", "reasons", "Reasons for the applicant", h("textarea", { rows: "2" }),
          "One per line; a rejection needs at least one. The applicant reads them as written."),
        h("div", { class: "field-row" }, [
          field(id, "proposal", "amount", "Amount (€)", h("input", { type: "text", inputmode: "decimal", autocomplete: "off",
            placeholder: String(item.amount || "") }), "Lower only; empty: as requested."),
          field(id, "proposal", "duration_months", "Duration (months)", h("input", { type: "text", inputmode: "numeric",
            autocomplete: "off", placeholder: String(item.duration_months || "") }), "Shorter only.")
        ]),
        formButtons(id, "Send proposal")
      ]);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        clearInvalid(form);
        var note = form.elements.note.value.trim();
        if (!note) { return invalid(id, form, "note", "Refused: write a note for the second officer."); }
        var amount = form.elements.amount.value.replace(/[\s\u00a0\u202f€,]+/g, "");
        var months = form.elements.duration_months.value.trim();
        if (months && !/^\d+$/.test(months)) { return invalid(id, form, "duration_months", "Refused: the duration is a whole number of months."); }
        send(id, "propose", {
          decision: form.elements.decision.value, note: note,
          reasons: form.elements.reasons.value.split("\n").map(function (r) { return r.trim(); }).filter(Boolean),
          amount: amount ? amount : null, duration_months: months ? Number(months) : null
        }, forms.get(id));
      });
      return withEscape(id, form);
    }

    function sendBackForm(id) {
      var form = h("form", { class: "review-form", "data-testid": "send-back-form-" + id, novalidate: true }, [
        field(id, "send-back", "note", "Why it goes back to the officer who proposed", h("textarea", { rows: "2", maxlength: "2000",
          required: true })),
        formButtons(id, "Send back")
      ]);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        clearInvalid(form);
        var note = form.elements.note.value.trim();
        if (!note) { return invalid(id, form, "note", "Refused: say why the proposal goes back."); }
        send(id, "send-back", { note: note }, forms.get(id));
      });
      return withEscape(id, form);
    }

    function formButtons(id, label) {
      var cancel = h("button", { type: "button", class: "btn small secondary", text: "Cancel" });
      cancel.addEventListener("click", function () { closeForm(id); });
      return h("div", { class: "actions" }, [h("button", { type: "submit", class: "btn small",
        "data-testid": "form-submit-" + id, text: label }), cancel]);
    }

    function withEscape(id, form) {
      form.addEventListener("keydown", function (event) {
        if (event.key === "Escape") { event.stopPropagation(); closeForm(id); }
      });
      return form;
    }

    function invalid(id, form, name, text) {
      var input = form.elements[name];
      input.classList.add("invalid");
      input.setAttribute("aria-invalid", "true");
      report(id, "refused", text, text);
      redraw(id);
      input.focus();
    }

    function clearInvalid(form) {
      Array.prototype.forEach.call(form.querySelectorAll(".invalid"), function (input) {
        input.classList.remove("invalid");
        input.removeAttribute("aria-invalid");
      });
    }

    // ------------------------------------------------------------ formats

    function shortId(id) { return String(id).slice(0, 8); }

    function who(username) {
      if (!username) { return "—"; }
      return username === options.username() ? "you" : username;
    }

    function when(text) {
      var t = Date.parse(text);
      return isNaN(t) ? "—" : dateTime.format(new Date(t));
    }

    function span(ms) {
      var minutes = Math.round(ms / 60000);
      if (minutes < 60) { return minutes + " min"; }
      var hours = Math.floor(minutes / 60);
      if (hours < 48) { return hours + " h " + (minutes % 60) + " min"; }
      return Math.floor(hours / 24) + " d " + (hours % 24) + " h";
    }

    function months(value) {
      var m = Number(value);
      if (!m) { return ""; }
      return m % 12 === 0 ? m / 12 + (m === 12 ? " year" : " years") : m + " months";
    }

    function employment(value) { return value ? capitalise(String(value).replace(/_/g, " ")) : ""; }

    function humanise(name) { return capitalise(String(name || "").replace(/_/g, " ")); }

    /** A rule's or band's figure, by what its name says it measures. */
    function figure(name, value) {
      if (value === null || value === undefined || value === "") { return "—"; }
      if (typeof value === "boolean") { return value ? "yes" : "no"; }
      var n = String(name || "");
      var number = isFinite(Number(value));
      if (/incident|score|count/i.test(n)) { return String(value); }
      if (/months|duration/i.test(n)) { return value + " months"; }  // before the ratios: "duRATIOn"
      if (number && /to_income|to_value|ratio|_rate$|^rate|dti|ltv/i.test(n)) { return percent(value); }
      if (number && /amount|income|price|payment|estimated_value|debts?$/i.test(n)) { return money(value); }
      return String(value);
    }

    return { start: start, stop: stop, changed: changed };
  }

  window.loanflowReferrals = { create: create };
})();
