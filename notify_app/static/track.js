/* An applicant's own page: /notify/track/<application id>#token=<access token>.
 *
 * The token comes in the URL fragment (never sent to a server, so never in a log) or from the
 * form; it is kept in sessionStorage and the fragment is removed from the address bar. It only
 * ever travels in the Authorization header. The page checks it with
 * GET /notify/applications/<id>/notifications (the history, shown at once), then follows
 * EventSource('/notify/applications/<id>/events?ticket=…&last_event_id=…') with a single-use live
 * ticket fetched for every connection (ui.js liveTicket): when the stream drops, the page opens a
 * new one with a new ticket, resuming after the last event it has. Documents download through the
 * signed links of the document list (refreshed before they expire). An expired or revoked token
 * is said so, and the applicant can have a new one sent to their e-mail address
 * (POST /loan/applications/<id>/access-token).
 * Actions go to loan_app (information, withdraw); documents come from notify_app once approved.
 * A referred application (REFERRED: two loan officers decide it) shows when their answer is due
 * (the status event's review.due_at, in the reader's own time zone, named) and why it was referred.
 *
 * Every value from the server is written with textContent (no HTML is built from data).
 */
(function () {
  "use strict";

  var TERMINAL = ["APPROVED", "REJECTED", "WITHDRAWN", "FAILED", "EXPIRED"];
  var EMPLOYMENT = {
    permanent: "Permanent contract", fixed_term: "Fixed-term contract", self_employed: "Self-employed",
    unemployed: "Unemployed", retired: "Retired"
  };
  var HEADLINES = {
    SUBMITTED: ["We have received your application", "It will be evaluated in a moment."],
    EVALUATING: ["We are evaluating your application", "We are checking your credit record and valuing the property."],
    DECIDING: ["A decision is being made", "Your credit check and the valuation are done; our lending policy is deciding."],
    INFO_REQUESTED: ["We need a little more information", "Please answer the questions below so that we can decide."],
    REFERRED: ["An officer is reviewing your application", "It is close to one of our lending limits, so a loan " +
      "officer decides it rather than our rules alone, and a second officer checks the decision. " +
      "There is nothing you need to do."],
    APPROVED: ["Your loan is approved", "Here is our offer."],
    REJECTED: ["We cannot offer you this loan", "We are sorry. The reasons are below."],
    WITHDRAWN: ["You withdrew this application", "Nothing more will happen with it."],
    FAILED: ["We could not complete the evaluation", "This is on our side; the reason is below. You may apply again."],
    EXPIRED: ["This application has expired", "The information we asked for did not arrive in time."]
  };
  var dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });
  var timeOnly = new Intl.DateTimeFormat("en-GB", { timeStyle: "medium" });
  // A due time days away, in the reader's time zone, which it names: "Mon 7 Dec 2026, 14:30 CET".
  var dueTime = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  // Words for a referral reason that came without its own sentence (decision_app sends one).
  var REFERRAL_WORDS = {
    DEBT_TO_INCOME_NEAR_LIMIT: "Your repayments would take up close to the largest share of your income we lend at.",
    LOAN_TO_VALUE_NEAR_LIMIT: "The loan is close to the most we lend for the property's estimated value.",
    CREDIT_SCORE_NEAR_MINIMUM: "Your credit score is close to our minimum."
  };

  var applicationId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop());
  var storageKey = "loanflow.track." + applicationId;
  var token = null;
  var events = new Map();   // seq -> event
  var source = null;
  var retryTimer = null;
  var attempts = 0;
  var shownInfoSeq = 0;
  var documentsState = { seq: 0, timer: null, tries: 0 };
  var streamRound = 0;      // bumped by every open and stop: a late ticket opens nothing
  var REFUSALS = {
    TOKEN_EXPIRED: "This access token has expired.",
    TOKEN_REVOKED: "This access token was revoked, or replaced by a newer one sent to your e-mail address."
  };

  // ---------------------------------------------------------------- helpers

  var ui = window.loanflowUi;  // ui.js: shared DOM and format helpers
  var $ = ui.$, h = ui.h, statusLabel = ui.statusLabel, capitalise = ui.capitalise, money = ui.money,
    percent = ui.percent;

  function duration(months) {
    var m = Number(months);
    if (!m) { return "—"; }
    return m % 12 === 0 ? m / 12 + (m === 12 ? " year" : " years") + " (" + m + " months)" : m + " months";
  }

  function when(text) {
    var d = new Date(Date.parse(text));
    if (isNaN(d.getTime())) { return ""; }
    return new Date().toDateString() === d.toDateString() ? "Today, " + timeOnly.format(d) : dateTime.format(d);
  }

  /** A due time as the reader's clock shows it ("" when unreadable). */
  function due(text) {
    var d = new Date(Date.parse(text));
    return isNaN(d.getTime()) ? "" : dueTime.format(d);
  }

  function reviewDue(e) { return e && e.review && e.review.due_at ? due(e.review.due_at) : ""; }

  function size(bytes) {
    var n = Number(bytes) || 0;
    return n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " kB" : (n / 1048576).toFixed(1) + " MB";
  }

  function authed(path, options) {
    var init = options || {};
    init.headers = Object.assign({ Authorization: "Bearer " + token, Accept: "application/json" }, init.headers || {});
    init.cache = "no-store";
    return fetch(path, init);
  }

  function show(el, message, kind) {
    el.hidden = !message;
    el.textContent = message || "";
    el.className = "alert" + (kind ? " " + kind : "");
  }

  function latest() {
    var best = null;
    events.forEach(function (e) { if (!best || e.seq > best.seq) { best = e; } });
    return best;
  }

  // ---------------------------------------------------------------- token

  /** What a 401 says, in words for the applicant (errors.reason: expired, revoked; else not valid). */
  function refusal(reason, fallback) {
    return REFUSALS[reason] || fallback || "This access token is not valid.";
  }

  function refusalOf(response, fallback) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      return refusal(body.errors && body.errors.reason, fallback);
    });
  }

  function askForToken(message) {
    stopStream();
    sessionStorage.removeItem(storageKey);
    token = null;
    $("app").hidden = true;
    $("connection").hidden = true;
    $("token-box").hidden = false;
    show($("token-error"), message || "");
    $("token").value = "";
    $("token").focus();
  }

  function begin(candidate) {
    token = candidate;
    var path = "/notify/applications/" + encodeURIComponent(applicationId) + "/notifications";
    return authed(path).then(function (response) {
      if (response.status === 401) { return refusalOf(response).then(askForToken); }
      if (response.status === 404) { askForToken("No application with this id matches this access token."); return; }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json().then(function (items) {
        sessionStorage.setItem(storageKey, candidate);
        $("token-box").hidden = true;
        $("app").hidden = false;
        $("connection").hidden = false;
        items.forEach(function (n) {
          var p = n.payload || {};
          add({ seq: n.seq, status: n.status, previous_status: n.previous_status, at: n.at, cause: p.cause,
            reasons: p.reasons || [], offer: p.offer, requested_information: p.requested_information || [],
            deadline: p.deadline, summary: p.summary || {}, review: p.review || null });
        });
        render(null);
        openStream();
      });
    }).catch(function () {
      // The server is unreachable for now: keep the token and show the page; the stream retries.
      $("token-box").hidden = true;
      $("app").hidden = false;
      $("connection").hidden = false;
      render(null);
      openStream();
    });
  }

  // ---------------------------------------------------------------- live

  function setConnection(state, text) {
    var el = $("connection");
    el.dataset.state = state;
    el.textContent = text;
  }

  function highestSeq() {
    var max = 0;
    events.forEach(function (e) { max = Math.max(max, e.seq); });
    return max;
  }

  function openStream() {
    clearTimeout(retryTimer);
    stopStream();
    var current = latest();
    if (current && TERMINAL.indexOf(current.status) !== -1) { setConnection("final", "Final"); return; }
    setConnection(attempts ? "reconnecting" : "connecting", attempts ? "Reconnecting…" : "Connecting…");
    var round = streamRound;
    ui.liveTicket(token).then(function (ticket) {
      if (round === streamRound) { follow(ticket); }
    }, function (error) {
      if (round !== streamRound) { return; }
      if (error.status === 401) { askForToken(refusal(error.reason, "This access token is no longer accepted.")); return; }
      retryLater();
    });
  }

  function retryLater() {
    setConnection("reconnecting", "Reconnecting…");
    attempts += 1;
    var delay = attempts === 1 ? 0 : Math.min(30000, 1000 * Math.pow(2, Math.min(attempts - 2, 5)));
    retryTimer = setTimeout(openStream, delay);
  }

  function follow(ticket) {
    var url = "/notify/applications/" + encodeURIComponent(applicationId) + "/events?ticket=" +
      encodeURIComponent(ticket) + (highestSeq() ? "&last_event_id=" + highestSeq() : "");
    var es = new EventSource(url);
    source = es;
    es.onopen = function () { attempts = 0; setConnection("live", "Live"); };
    es.addEventListener("status", function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (add(data)) { render(data.seq); }
      if (TERMINAL.indexOf(data.status) !== -1 && data.seq === highestSeq()) {
        // A final status never changes again: free the server's connection.
        stopStream();
        setConnection("final", "Final");
      }
    });
    es.onerror = function () {
      if (source !== es) { return; }
      // The stream dropped or was refused. The browser's own reconnection would present the spent
      // ticket again: close it, and open a new stream with a new ticket (the ticket request says
      // whether the token is still accepted), at once the first time, then with backoff.
      stopStream();
      retryLater();
    };
  }

  function stopStream() {
    streamRound += 1;
    var es = source;
    source = null;
    if (es) { es.close(); }
  }

  /** Remember one event; true if it was new. */
  function add(event) {
    var seq = Number(event.seq);
    if (!seq || events.has(seq)) { return false; }
    events.set(seq, event);
    return true;
  }

  // ---------------------------------------------------------------- rendering

  function render(freshSeq) {
    var current = latest();
    renderHero(current);
    renderSummary();
    renderTimeline(freshSeq);
    renderOffer(current);
    renderReasons(current);
    renderReferral(current);
    renderInfo(current);
    renderDocuments(current);
  }

  function renderHero(current) {
    var status = current ? current.status : null;
    var first = events.get(1);
    var eyebrow = $("eyebrow");
    eyebrow.textContent = "";
    eyebrow.appendChild(document.createTextNode("Application "));
    eyebrow.appendChild(h("code", { title: applicationId, text: applicationId.slice(0, 8) }));
    if (first) { eyebrow.appendChild(document.createTextNode(" · submitted " + when(first.at))); }
    var badge = $("current-status");
    badge.dataset.status = status || "";
    badge.textContent = status ? statusLabel(status) : "No news yet";
    var words = HEADLINES[status] || ["Your application", "Its status will appear here in a moment."];
    $("headline").textContent = words[0];
    $("sentence").textContent = words[1];
    $("withdraw").hidden = !status || TERMINAL.indexOf(status) !== -1;
    renderSteps(status);
  }

  function renderSteps(status) {
    var labels = ["Submitted", "Credit & valuation", "Decision", "Result"];
    var at = { SUBMITTED: 0, EVALUATING: 1, DECIDING: 2, INFO_REQUESTED: 2, REFERRED: 2 }[status];
    var final = TERMINAL.indexOf(status) !== -1;
    if (status === "INFO_REQUESTED") { labels[2] = "Information needed"; }
    if (status === "REFERRED") { labels[2] = "Officer review"; }
    if (final) { at = 3; labels[3] = capitalise(statusLabel(status).toLowerCase()); }
    var list = $("steps");
    list.textContent = "";
    labels.forEach(function (label, index) {
      var cls = at === undefined ? "" : index < at ? "done" : index === at ? "current" + (final ? " end" : "") : "";
      list.appendChild(h("li", { class: cls, "data-status": index === at && final ? status : null, text: label }));
    });
  }

  function renderSummary() {
    var summary = {};
    events.forEach(function (e) { if (e.summary && Object.keys(e.summary).length) { summary = e.summary; } });
    var list = $("summary");
    list.textContent = "";
    var property = [summary.kind ? capitalise(summary.kind) : null, summary.city,
      summary.postcode].filter(Boolean).join(" · ");
    [["Amount", money(summary.amount)], ["Duration", duration(summary.duration_months)],
      ["Property", property || "—"], ["Employment", EMPLOYMENT[summary.employment_status] || summary.employment_status || "—"]]
      .forEach(function (pair) {
        list.appendChild(h("dt", { text: pair[0] }));
        list.appendChild(h("dd", { text: pair[1] }));
      });
  }

  function renderTimeline(freshSeq) {
    var list = $("timeline");
    list.textContent = "";
    var ordered = Array.from(events.values()).sort(function (a, b) { return b.seq - a.seq; });
    if (!ordered.length) { list.appendChild(h("li", { class: "loading", text: "Nothing yet." })); }
    ordered.forEach(function (e) {
      var extra = null;
      if (e.status === "APPROVED" && e.offer) {
        extra = h("div", { class: "event-detail" }, [money(e.offer.monthly_payment, true) + " per month at " +
          percent(e.offer.annual_rate)]);
      } else if ((e.status === "REJECTED" || e.status === "FAILED") && (e.reasons || []).length) {
        extra = h("div", { class: "event-detail" }, [h("ul", {}, e.reasons.map(function (r) {
          return h("li", { text: r.message || r.code });
        }))]);
      } else if (e.status === "INFO_REQUESTED" && e.deadline) {
        extra = h("div", { class: "deadline", text: "Answer by " + when(e.deadline) });
      } else if (e.status === "REFERRED" && reviewDue(e)) {
        extra = h("div", { class: "deadline", text: "Answer expected by " + reviewDue(e) });
      }
      list.appendChild(h("li", { "data-testid": "event-" + e.seq, "data-status": e.status,
        class: e.seq === freshSeq ? "fresh" : "" }, [
        h("div", { class: "event" }, [
          h("div", { class: "event-head" }, [
            h("span", { class: "badge", "data-status": e.status, text: statusLabel(e.status) }),
            h("time", { datetime: e.at, text: when(e.at) })
          ]),
          e.cause ? h("p", { class: "event-cause", text: capitalise(e.cause) }) : null,
          extra
        ])
      ]));
    });
  }

  function tile(label, value, note, main) {
    return h("div", { class: "tile" + (main ? " main" : "") }, [h("span", { text: label }), h("b", { text: value }),
      note ? h("small", { text: note }) : null]);
  }

  function renderOffer(current) {
    var offer = current && current.status === "APPROVED" ? current.offer : null;
    $("offer-box").hidden = !offer;
    if (!offer) { return; }
    var box = $("offer");
    box.textContent = "";
    box.appendChild(tile("Monthly payment", money(offer.monthly_payment, true),
      Number(offer.monthly_insurance) ? "plus " + money(offer.monthly_insurance, true) + " borrower insurance per month" : null, true));
    box.appendChild(tile("Annual rate", percent(offer.annual_rate), "fixed for the whole loan"));
    box.appendChild(tile("Duration", duration(offer.duration_months).replace(/ \(.*\)$/, ""), offer.duration_months + " monthly payments"));
    box.appendChild(tile("Amount borrowed", money(offer.amount, true)));
    box.appendChild(tile("Total interest", money(offer.total_interest, true)));
    box.appendChild(tile("Insurance", money(offer.monthly_insurance, true), "per month"));
    var total = tile("Total cost", money(offer.total_cost, true), "capital and interest");
    total.setAttribute("data-testid", "offer-total");
    box.appendChild(total);
  }

  function renderReasons(current) {
    var status = current ? current.status : null;
    var reasons = current && (status === "REJECTED" || status === "FAILED") ? current.reasons || [] : [];
    $("reasons-box").hidden = !reasons.length;
    // OFFICER_DECISION: two loan officers' own sentence for the applicant, after a referral.
    var officers = reasons.some(function (r) { return r.code === "OFFICER_DECISION"; });
    $("reasons-title").textContent = status === "FAILED" ? "What went wrong"
      : officers ? "What our loan officers decided" : "Why we cannot lend";
    var list = $("reasons");
    list.textContent = "";
    reasons.forEach(function (r) { list.appendChild(h("li", { "data-code": r.code, text: r.message || r.code })); });
  }

  /** Why an officer reviews it, and by when the answer is due (REFERRED only). */
  function renderReferral(current) {
    var referred = !!current && current.status === "REFERRED";
    $("referral-box").hidden = !referred;
    if (!referred) { return; }
    var at = reviewDue(current);
    $("review-due").textContent = at ? "We expect to answer by " + at + "." : "We will answer as soon as the review is done.";
    var list = $("referral-reasons");
    list.textContent = "";
    (current.reasons || []).forEach(function (r) {
      list.appendChild(h("li", { "data-code": r.code, text: r.message || REFERRAL_WORDS[r.code] || r.code }));
    });
    $("referral-why").hidden = !list.children.length;
  }

  function renderInfo(current) {
    var waiting = current && current.status === "INFO_REQUESTED" && (current.requested_information || []).length;
    $("info-box").hidden = !waiting;
    if (!waiting || shownInfoSeq === current.seq) { return; }
    shownInfoSeq = current.seq; // built once per request, so typed values survive re-renders
    $("info-deadline").textContent = current.deadline ? "Please answer by " + when(current.deadline) + "." : "";
    show($("info-message"), "");
    var box = $("info-fields");
    box.textContent = "";
    current.requested_information.forEach(function (item) {
      var id = "info-" + item.name;
      var decimal = (item.type || "decimal") === "decimal";
      box.appendChild(h("div", { class: "field" }, [
        h("label", { for: id, text: humanName(item.name) + (decimal ? " (€)" : "") }),
        item.description ? h("p", { class: "hint", text: item.description }) : null,
        h("input", { type: "text", id: id, name: item.name, "data-testid": id, inputmode: decimal ? "decimal" : null,
          autocomplete: "off", required: true }),
        h("div", { class: "field-error", id: "error-" + item.name, "data-testid": "error-" + item.name, hidden: true })
      ]));
    });
    $("info-form").querySelector("button").disabled = false;
  }

  function humanName(name) {
    var match = /^declared_income_year_(\d+)$/.exec(name);
    if (match) {
      return match[1] === "1" ? "Declared income, last year" : match[1] === "2" ? "Declared income, the year before"
        : "Declared income, " + match[1] + " years ago";
    }
    return capitalise(String(name).replace(/_/g, " "));
  }

  function submitInfo(event) {
    event.preventDefault();
    var form = $("info-form");
    var body = {};
    Array.prototype.forEach.call(form.querySelectorAll("input[name]"), function (input) {
      body[input.name] = input.value.replace(/[\s\u00a0\u202f]+/g, ""); // "70 000" → "70000"
      input.classList.remove("invalid");
      $("error-" + input.name).hidden = true;
    });
    var button = form.querySelector("button");
    button.disabled = true;
    show($("info-message"), "");
    authed("/loan/applications/" + encodeURIComponent(applicationId) + "/information", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (response) {
      if (response.ok) {
        show($("info-message"), "Thank you. We are resuming the evaluation.", "ok");
        return;
      }
      button.disabled = false;
      return response.json().catch(function () { return {}; }).then(function (error) {
        if (response.status === 422) {
          var fields = (error.errors && error.errors.json) || {};
          var other = [];
          Object.keys(fields).forEach(function (name) {
            var messages = [].concat(fields[name]).join(" ");
            var slot = $("error-" + name);
            var input = form.querySelector("input[name='" + CSS.escape(name) + "']");
            if (slot && input) {
              slot.hidden = false;
              slot.textContent = messages;
              input.classList.add("invalid");
            } else { other.push(messages); }
          });
          show($("info-message"), other.length ? other.join(" ") : "Please correct the fields above.");
        } else if (response.status === 409) {
          show($("info-message"), "This application is no longer waiting for information.");
        } else if (response.status === 401 || response.status === 404) {
          askForToken(refusal(error.errors && error.errors.reason, "This access token is no longer accepted."));
        } else {
          show($("info-message"), error.message || "Something went wrong (" + response.status + "); please try again.");
        }
      });
    }, function () {
      button.disabled = false;
      show($("info-message"), "The server cannot be reached; please try again.");
    });
  }

  function withdraw() {
    if (!window.confirm("Withdraw this application? This cannot be undone.")) { return; }
    var button = $("withdraw");
    button.disabled = true;
    authed("/loan/applications/" + encodeURIComponent(applicationId) + "/withdraw", { method: "POST" })
      .then(function (response) {
        button.disabled = false;
        if (response.ok) {
          button.hidden = true;
          show($("action-message"), "Your application has been withdrawn.", "info");
        } else if (response.status === 409) {
          show($("action-message"), "This application has already ended.");
        } else if (response.status === 401 || response.status === 404) {
          refusalOf(response, "This access token is no longer accepted.").then(askForToken);
        } else {
          show($("action-message"), "Something went wrong (" + response.status + "); please try again.");
        }
      }, function () {
        button.disabled = false;
        show($("action-message"), "The server cannot be reached; please try again.");
      });
  }

  // ---------------------------------------------------------------- documents

  function renderDocuments(current) {
    var approved = current && current.status === "APPROVED";
    if (!approved) { $("documents-box").hidden = true; return; }
    if (documentsState.seq === current.seq) { return; }
    documentsState.seq = current.seq;
    documentsState.tries = 0;
    loadDocuments();
  }

  function loadDocuments() {
    clearTimeout(documentsState.timer);
    if (!token) { return; }
    authed("/notify/applications/" + encodeURIComponent(applicationId) + "/documents").then(function (response) {
      if (response.status === 404 || response.status === 405) { $("documents-box").hidden = true; return null; }
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (items) {
      if (!items) { return; }
      $("documents-box").hidden = false;
      var list = $("documents");
      list.textContent = "";
      if (!items.length) {
        $("documents-note").textContent = "Your repayment schedule is being prepared…";
        retryDocuments();
        return;
      }
      $("documents-note").textContent = "Your repayment schedule, ready to download.";
      items.slice().sort(function (a, b) {
        return (a.content_type === "application/pdf" ? 0 : 1) - (b.content_type === "application/pdf" ? 0 : 1);
      }).forEach(function (doc, index) {
        var type = String(doc.content_type || "").split(";")[0];
        var ext = type === "application/pdf" ? "pdf" : type === "text/csv" ? "csv" : "file";
        list.appendChild(h("li", {}, [h("a", { href: doc.url, download: doc.name || "", "data-testid": "document-" + index,
          rel: "noreferrer" }, [
          h("span", { class: "ext " + ext, text: ext.toUpperCase() }),
          h("span", {}, [h("b", { text: doc.name || "document" }), h("br"),
            h("span", { class: "meta", text: (type || "file") + " · " + size(doc.size) })])
        ])]));
      });
      refreshLinks(items);
    }).catch(function () { retryDocuments(); });
  }

  /** The links are signed for a few minutes: fetch fresh ones a little before the first expires. */
  function refreshLinks(items) {
    var expiries = items.map(function (doc) { return Date.parse(doc.url_expires_at); }).filter(isFinite);
    if (!expiries.length) { return; }
    var wait = Math.max(5000, Math.min.apply(null, expiries) - Date.now() - 30000);
    documentsState.timer = setTimeout(loadDocuments, wait);
  }

  function retryDocuments() {
    documentsState.tries += 1;
    if (documentsState.tries < 30) { documentsState.timer = setTimeout(loadDocuments, 2000); } else {
      $("documents-note").textContent = "Your documents are not ready yet; reload this page later.";
    }
  }

  // ---------------------------------------------------------------- a new token by e-mail

  function requestToken(event) {
    event.preventDefault();
    var email = $("reissue-email").value.trim();
    if (!email) { show($("reissue-message"), "Enter the e-mail address you applied with."); return; }
    var button = $("reissue-form").querySelector("button");
    button.disabled = true;
    fetch("/loan/applications/" + encodeURIComponent(applicationId) + "/access-token", {
      method: "POST", cache: "no-store", body: JSON.stringify({ email: email }),
      headers: { "Content-Type": "application/json", Accept: "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        button.disabled = false;
        if (response.status === 202) { show($("reissue-message"), body.message, "ok"); return; }
        show($("reissue-message"), response.status === 422 ? "This is not a valid e-mail address."
          : body.message || "Something went wrong (" + response.status + "); please try again.");
      });
    }, function () {
      button.disabled = false;
      show($("reissue-message"), "The server cannot be reached; please try again.");
    });
  }

  // ---------------------------------------------------------------- wiring

  document.addEventListener("DOMContentLoaded", function () {
    $("token-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var candidate = $("token").value.trim();
      if (!candidate) { show($("token-error"), "Enter your access token."); return; }
      begin(candidate);
    });
    $("reissue-form").addEventListener("submit", requestToken);
    $("info-form").addEventListener("submit", submitInfo);
    $("withdraw").addEventListener("click", withdraw);

    var saved = fragmentToken() || sessionStorage.getItem(storageKey);
    if (saved) { begin(saved); } else { askForToken(""); }
    // A link opened in this tab again (a new token from an e-mail): same page, another fragment.
    window.addEventListener("hashchange", function () {
      var fresh = fragmentToken();
      if (fresh) { begin(fresh); }
    });
  });

  /** The token of a link's fragment (#token=…), taken out of the address bar; null without one. */
  function fragmentToken() {
    var fromLink = new URLSearchParams(location.hash.replace(/^#/, "")).get("token");
    if (fromLink) {
      // Keep the token out of the address bar, the history and any shared screenshot.
      history.replaceState(null, "", location.pathname + location.search);
    }
    return fromLink;
  }
})();
