/* Helpers shared by the notify pages (dashboard.js, tasks.js, track.js), loaded before them.
 *
 * DOM building that never parses HTML (every value from the server is written as text), the
 * money and rate formats the pages show, the live ticket every WebSocket and EventSource is
 * opened with (a token never goes in a URL), and the staff sign-in of the two staff pages
 * (POST /auth/token, the session in sessionStorage, the form again on a 401). Exposed as
 * window.loanflowUi; no build step.
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

  // ------------------------------------------------------------------ staff sign-in

  /** sessionStorage keys of a staff session (never localStorage, never a URL): closing the tab forgets it. */
  var STAFF_TOKEN_KEY = "loanflow.staffToken";
  var STAFF_EXPIRY_KEY = "loanflow.staffTokenExpiry";   // epoch milliseconds
  var STAFF_USER_KEY = "loanflow.staffUser";            // JSON {"username", "role"}
  var SIGN_IN_MESSAGES = {
    expired: "Your session has expired: sign in again.",
    wrong: "Wrong username or password.",
    role: "This account may not use this page.",
    missing: "Enter your username and password.",
    down: "The server cannot be reached; try again shortly."
  };

  function storedSession() {
    var token = sessionStorage.getItem(STAFF_TOKEN_KEY);
    if (!token) { return null; }
    var user = {};
    try { user = JSON.parse(sessionStorage.getItem(STAFF_USER_KEY) || "{}") || {}; } catch (e) { user = {}; }
    return { token: token, expiresAt: Number(sessionStorage.getItem(STAFF_EXPIRY_KEY)) || 0,
      username: String(user.username || ""), role: String(user.role || "") };
  }

  function storeSession(session) {
    sessionStorage.setItem(STAFF_TOKEN_KEY, session.token);
    sessionStorage.setItem(STAFF_EXPIRY_KEY, String(session.expiresAt));
    sessionStorage.setItem(STAFF_USER_KEY, JSON.stringify({ username: session.username, role: session.role }));
  }

  function forgetSession() {
    [STAFF_TOKEN_KEY, STAFF_EXPIRY_KEY, STAFF_USER_KEY].forEach(function (key) { sessionStorage.removeItem(key); });
  }

  /**
   * POST /auth/token. Resolves to a session {token, expiresAt, username, role}; rejects with an Error
   * whose message is what the form shows (wrong credentials, throttled: the server's own words).
   */
  function requestToken(username, password) {
    return fetch("/auth/token", {
      method: "POST", cache: "no-store", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username: username, password: password })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok && body.access_token) {
          return { token: body.access_token, expiresAt: Date.now() + 1000 * (Number(body.expires_in) || 900),
            username: String(body.username || username), role: String(body.role || "") };
        }
        var message;
        if (response.status === 401) {
          message = SIGN_IN_MESSAGES.wrong;
        } else if (response.status === 429) {
          var wait = response.headers.get("Retry-After");
          message = body.message || ("Too many failed sign-ins: try again" + (wait ? " in " + wait + " s." : " later."));
        } else if (response.status === 422 || response.status === 400) {
          message = SIGN_IN_MESSAGES.missing;
        } else {
          message = "The server answered " + response.status + "; try again shortly.";
        }
        var error = new Error(message);
        error.status = response.status;
        throw error;
      });
    }, function () {
      var error = new Error(SIGN_IN_MESSAGES.down);
      error.status = 0;
      throw error;
    });
  }

  /**
   * The staff sign-in of a page, shared by the officers' dashboard and the task dashboard.
   *
   * The page holds the same elements on both: #login (the section holding #login-form, with
   * #username, #password and #login-error) and, in its header, #signed-in-as and #sign-out.
   * options.roles: the roles this page admits (admin always); options.start(session): show the
   * page for this session {token, expiresAt, username, role} (called again after every sign-in:
   * the page resumes where the user was); options.stop(forgetAll): hide it and stop its timers and
   * streams, the token is gone (forgetAll: signed out, drop the data and the place too).
   *
   * A token lives 15 minutes and is never refreshed: when it runs out, or any call answers 401,
   * the form comes back with the username filled in and "Your session has expired". Returns
   * {fetch, token, expire, signOut}: fetch(path, init) adds the bearer token and turns a 401 into
   * the form (the promise then rejects with an Error whose `expired` is true: nothing to show);
   * expire(token) is that for a 401 seen elsewhere (a live ticket); signOut(message) forgets the
   * session and shows the form with `message` (a 403: "This account may not use this page.").
   */
  function staffSignIn(options) {
    var admitted = (options.roles || []).concat(["admin"]);
    var session = null;
    var expiryTimer = null;
    var pending = false;

    function setMessage(message, info) {
      var line = $("login-error");
      line.textContent = message || "";
      line.hidden = !message;
      line.classList.toggle("info", !!info);
    }

    function showForm(message, info, forgetAll) {
      clearTimeout(expiryTimer);
      options.stop(!!forgetAll);
      $("signed-in-as").hidden = true;
      $("signed-in-as").textContent = "";
      $("sign-out").hidden = true;
      $("login").hidden = false;
      $("password").value = "";
      setMessage(message, info);
      ($("username").value ? $("password") : $("username")).focus();
    }

    function begin(fresh) {
      session = fresh;
      $("login").hidden = true;
      setMessage("");
      $("signed-in-as").textContent = session.username + " (" + session.role + ")";
      $("signed-in-as").hidden = false;
      $("sign-out").hidden = false;
      clearTimeout(expiryTimer);
      // setTimeout counts in a signed 32-bit integer: longer waits would fire at once.
      expiryTimer = setTimeout(function () { expire(); }, Math.min(Math.max(0, session.expiresAt - Date.now()), 2147483647));
      options.start(session);
    }

    /** The session is over (a 401, or its time is up): the form again, the username kept. When
     * `token` is given, only if it is still the current one (a late answer to an old call). */
    function expire(token) {
      if (!session || (token && token !== session.token)) { return; }
      $("username").value = session.username;
      session = null;
      forgetSession();
      showForm(SIGN_IN_MESSAGES.expired, true, false);
    }

    function signOut(message) {
      session = null;
      forgetSession();
      $("username").value = "";
      showForm(typeof message === "string" ? message : "", false, true);
    }

    function submit(event) {
      event.preventDefault();
      if (pending) { return; }
      var username = $("username").value.trim();
      var password = $("password").value;
      if (!username || !password) { setMessage(SIGN_IN_MESSAGES.missing); return; }
      pending = true;
      $("sign-in").disabled = true;
      requestToken(username, password).then(function (fresh) {
        if (admitted.indexOf(fresh.role) === -1) { throw new Error(SIGN_IN_MESSAGES.role); }
        storeSession(fresh);
        $("password").value = "";
        begin(fresh);
      }).catch(function (error) {
        $("password").value = "";
        setMessage(error.message);
        $("password").focus();
      }).then(function () {
        pending = false;
        $("sign-in").disabled = false;
      });
    }

    function authorizedFetch(path, init) {
      var current = session;
      if (!current) {
        var gone = new Error(SIGN_IN_MESSAGES.expired);
        gone.expired = true;
        return Promise.reject(gone);
      }
      var request = Object.assign({ cache: "no-store" }, init || {});
      request.headers = Object.assign({ Accept: "application/json" }, request.headers || {},
        { Authorization: "Bearer " + current.token });
      return fetch(path, request).then(function (response) {
        if (response.status === 401) {
          expire(current.token);
          var error = new Error(SIGN_IN_MESSAGES.expired);
          error.expired = true;
          error.status = 401;
          throw error;
        }
        return response;
      });
    }

    $("login-form").addEventListener("submit", submit);
    $("sign-out").addEventListener("click", function () { signOut(""); });

    // The stored session is looked at once the caller has the returned object in hand: its
    // start() may already call fetch().
    Promise.resolve().then(resume);

    function resume() {
      var saved = storedSession();
      if (!saved) {
        showForm("", false, true);
      } else if (admitted.indexOf(saved.role) === -1) {
        forgetSession();
        showForm("", false, true);
      } else if (saved.expiresAt && saved.expiresAt <= Date.now()) {
        forgetSession();
        $("username").value = saved.username;
        showForm(SIGN_IN_MESSAGES.expired, true, true);
      } else {
        begin(saved);  // the server has the last word: a refused token brings the form back
      }
    }

    return {
      fetch: authorizedFetch,
      token: function () { return session ? session.token : null; },
      expire: expire,
      signOut: signOut
    };
  }

  window.loanflowUi = { $: $, h: h, statusLabel: statusLabel, capitalise: capitalise, money: money, percent: percent,
    liveTicket: liveTicket, staffSignIn: staffSignIn, signInMessages: SIGN_IN_MESSAGES };
})();
