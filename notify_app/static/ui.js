/* Helpers shared by the notify pages (dashboard.js, track.js), loaded before them.
 *
 * DOM building that never parses HTML (every value from the server is written as text), the
 * money and rate formats both pages show, and the live ticket every WebSocket and EventSource is
 * opened with (a long-lived token never goes in a URL). Exposed as window.loanflowUi; no build step.
 */
(function () {
  "use strict";

  var euros = new Intl.NumberFormat("en-IE", { style: "currency", currency: "EUR", maximumFractionDigits: 0 });
  var eurosCents = new Intl.NumberFormat("en-IE", { style: "currency", currency: "EUR" });

  function $(id) { return document.getElementById(id); }

  /** An element with attributes and children (strings become text nodes). */
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) { return; }
      if (key === "text") { el.textContent = value; } else if (key === "class") { el.className = value; } else {
        el.setAttribute(key, value === true ? "" : value);
      }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return el;
  }

  function statusLabel(status) { return (status || "—").replace(/_/g, " "); }

  function capitalise(text) { return text ? text.charAt(0).toUpperCase() + text.slice(1) : ""; }

  /** "€200,000" (or "€1,165.06" with cents); "—" for anything that is not a number. */
  function money(value, cents) {
    var number = Number(value);
    if (value === null || value === undefined || value === "" || !isFinite(number)) { return "—"; }
    return (cents ? eurosCents : euros).format(number);
  }

  /** A fraction as a percentage: 0.0355 → "3.55 %". */
  function percent(rate) {
    var number = Number(rate);
    return isFinite(number) ? (number * 100).toFixed(2).replace(/\.?0+$/, "") + " %" : "—";
  }

  /**
   * A live ticket for the holder of `token`: POST /notify/live/tickets. It opens one WebSocket or
   * EventSource (?ticket=) within seconds, once: ask for a new one for every connection, reconnections
   * included. Resolves to the ticket; rejects with an Error whose `status` (401, …; 0 when the server
   * cannot be reached) and `reason` (errors.reason: TOKEN_EXPIRED, TOKEN_REVOKED) say why.
   */
  function liveTicket(token) {
    return fetch("/notify/live/tickets", {
      method: "POST", cache: "no-store", headers: { Authorization: "Bearer " + token, Accept: "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 201 && body.ticket) { return body.ticket; }
        var error = new Error(body.message || "HTTP " + response.status);
        error.status = response.status;
        error.reason = body.errors && body.errors.reason;
        throw error;
      });
    }, function (failure) {
      var error = new Error(String(failure));
      error.status = 0;
      throw error;
    });
  }

  window.loanflowUi = { $: $, h: h, statusLabel: statusLabel, capitalise: capitalise, money: money, percent: percent,
    liveTicket: liveTicket };
})();
