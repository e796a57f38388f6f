/* Screening page: keyboard shortcuts, instant next record (prefetched), decisions never lost.
 *
 * The server renders the current record and the next one (in a <template>). A decision swaps the
 * prefetched record in at once and sends the decision in the background, in order, with its
 * client token: a retry after a network error is stored once. Without JavaScript, the forms post
 * normally and the page reloads.
 */
(function () {
  "use strict";

  var pending = [];        // decisions not yet acknowledged by the server, in order
  var sending = false;
  var refusals = [];       // messages of decisions refused while later ones were still pending
  var retryTimer = null;

  // Folded parts (exclusion reasons) are shown unfolded without JavaScript, where no key opens them.
  document.documentElement.classList.add("screening-js");

  function area() { return document.getElementById("screen-area"); }
  function current() { return area() && area().querySelector(".screen-current"); }
  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  // Where a message about the decision goes: the decision bar of the record on screen, or the
  // top of the screening area when no record takes a decision.
  function messageSlot() {
    var slot = current() && current().querySelector(".decision-bar .bar-messages");
    return slot || null;
  }

  function placeMessage(node) {
    var slot = messageSlot();
    if (slot) { slot.appendChild(node); } else if (area()) { area().insertBefore(node, area().firstElementChild); }
  }

  // The connection message, with a retry now; it follows the record on screen.
  function banner(text, withRetry) {
    var box = document.getElementById("screen-banner");
    if (!text) { if (box) { box.remove(); } return; }
    if (!box) {
      box = document.createElement("p");
      box.id = "screen-banner";
      box.className = "error";
      box.setAttribute("role", "alert");
      box.setAttribute("data-testid", "connection-error");
    }
    box.textContent = text;
    if (withRetry) {
      var retry = document.createElement("button");
      retry.type = "button";
      retry.className = "link retry";
      retry.textContent = "Retry now";
      retry.addEventListener("click", function () {
        if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
        send();
      });
      box.appendChild(retry);
    }
    if (box.parentNode !== messageSlot()) { placeMessage(box); }
  }
  // Tests and the page itself can tell when every decision has reached the server.
  function markPending() { document.body.setAttribute("data-screening-pending", String(pending.length)); }

  function processHtmx(el) { if (window.htmx) { window.htmx.process(el); } }

  function alertText(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var alert = holder.querySelector("#screen-area [role=alert]");
    return alert ? alert.textContent : "";
  }

  function localTimes(root) {
    // Lease ends are sent in UTC; said in the reviewer's own time when the browser knows it.
    (root || document).querySelectorAll("time[data-local-time]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { return; }
      el.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      el.title = when.toUTCString();
    });
  }

  // A decision refused (e.g. the record was settled meanwhile) while the reviewer had already
  // moved on: its message is shown once the last answer is on screen, never dropped.
  function showRefusals() {
    if (!refusals.length || !area()) { return; }
    refusals.forEach(function (text) {
      var p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.setAttribute("data-testid", "screen-error");
      p.textContent = text;
      placeMessage(p);
    });
    refusals = [];
  }

  function replaceArea(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.querySelector("#screen-area");
    if (!fresh) { return; }
    area().replaceWith(fresh);
    processHtmx(fresh);
    localTimes(fresh);
    watchHeld();
    focusCurrent();
    showRefusals();
  }

  function focusCurrent() {
    var c = current();
    if (c) { c.setAttribute("tabindex", "-1"); c.focus({ preventScroll: true }); window.scrollTo(0, 0); }
  }

  function shownRecordId() {
    var panel = current() && current().querySelector(".record-panel");
    return panel ? panel.getAttribute("data-record-id") : null;
  }

  function applyResponse(html, optimistic) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.querySelector("#screen-area");
    if (!fresh) { return; }
    var freshPanel = fresh.querySelector(".screen-current .record-panel");
    var freshId = freshPanel ? freshPanel.getAttribute("data-record-id") : null;
    if (optimistic && freshId && freshId === shownRecordId() && !fresh.querySelector("[role=alert]")) {
      // The record on screen is the server's next one too: keep what the reviewer may have typed,
      // take the new prefetch and navigation.
      var oldTemplate = area().querySelector("template.screen-prefetch");
      var newTemplate = fresh.querySelector("template.screen-prefetch");
      if (oldTemplate) { oldTemplate.remove(); }
      if (newTemplate) { current().after(newTemplate); }
      ["data-previous-url", "data-my-count"].forEach(function (name) {
        if (fresh.hasAttribute(name)) { area().setAttribute(name, fresh.getAttribute(name)); }
      });
      var token = freshPanel.querySelector("input[name=client_token]");
      var mine = current().querySelector("input[name=client_token]");
      if (token && mine) { mine.value = token.value; }
      var prev = fresh.querySelector(".nav-prev"), oldPrev = area().querySelector(".nav-prev");
      if (prev && oldPrev) { oldPrev.replaceWith(prev); } else if (prev) { area().appendChild(prev); }
      showRefusals();
      return;
    }
    if (fresh.querySelector(".record-panel[data-shown]")) {
      // The answer left the record out, counting on the one on screen; it is not: ask for it.
      load(area().getAttribute("data-screen-url"), true);
      return;
    }
    replaceArea(html);
  }

  function send() {
    if (sending || !pending.length) { return; }
    sending = true;
    var item = pending[0];
    var headers = { "HX-Request": "true", "X-CSRFToken": csrf() };
    // The server then sends the record on screen as an id only, not rendered a second time.
    if (item.showing) { headers["X-Screen-Showing"] = item.showing; }
    fetch(item.url, {
      method: "POST",
      body: item.body,
      headers: headers,
      credentials: "same-origin",
    }).then(function (response) {
      return response.text().then(function (html) { return { status: response.status, html: html }; });
    }).then(function (result) {
      if (result.status >= 500) { throw new Error("The server failed (" + result.status + ")"); }
      pending.shift();
      sending = false;
      markPending();
      banner("");
      document.body.dispatchEvent(new CustomEvent("screening:decided"));
      if (pending.length) {
        if (result.status === 422) { refusals.push(alertText(result.html)); }
        send();
      } else if (result.status === 200 || result.status === 422) {
        applyResponse(result.html, item.optimistic && result.status === 200);
      } else if (result.status === 403) {
        current() && current().classList.remove("sending");
        banner("The decision was refused: you may no longer screen in this review, or your session ended. Log in again, then reload.");
      } else {
        current() && current().classList.remove("sending");
        banner("The decision was refused (" + result.status + "). Reload the page.");
      }
    }).catch(function (error) {
      sending = false;
      item.tries += 1;
      var why = navigator.onLine === false ? "You are offline" : (error && /server/.test(error.message) ? error.message : "The connection was lost");
      var what = item.label === "undo" ? "your undo" :
        item.label ? "your decision on " + item.label.replace(/^Record/, "record") : "your decision";
      banner(why + ": " + what + " is not saved yet. It is kept and will be sent once; retrying (" + item.tries + ")…", true);
      retryTimer = setTimeout(function () { retryTimer = null; send(); }, Math.min(8000, 500 * Math.pow(2, item.tries)));
    });
  }

  function decide(value) {
    var c = current();
    var form = c && c.querySelector("form.decision-form");
    // A record already sent (waiting for the server's answer) takes no second decision.
    if (!form || c.classList.contains("sending")) { return; }
    if (value === "exclude" && form.hasAttribute("data-reasons-required") &&
        !form.querySelector("input[name=reasons]:checked")) {
      // Full text: an exclusion needs its reason (the server says so too); ask for it here.
      openReasons();
      var note = document.createElement("p");
      note.className = "error";
      note.setAttribute("role", "alert");
      note.setAttribute("data-testid", "screen-error");
      note.textContent = "An exclusion at full text needs at least one reason: tick one (keys 1–9), then exclude again.";
      var slot = messageSlot();
      if (slot) { slot.innerHTML = ""; slot.appendChild(note); }
      return;
    }
    var body = new FormData(form);
    body.set("value", value);
    var template = area().querySelector("template.screen-prefetch");
    // Instant at title/abstract. Full text waits for the server (a reason may be missing).
    var optimistic = Boolean(template) && area().getAttribute("data-stage") === "ta" && !pending.length;
    var number = c.querySelector(".record-number");
    var item = { url: form.action, body: body, tries: 0, optimistic: optimistic,
      label: number ? number.textContent.trim() : "" };
    pending.push(item);
    markPending();
    if (optimistic) {
      c.innerHTML = "";
      c.appendChild(template.content.cloneNode(true));
      template.remove();
      processHtmx(c);
      item.showing = shownRecordId();
      var count = document.querySelector("[data-my-count]");
      if (count && count.tagName === "STRONG") { count.textContent = String(parseInt(count.textContent, 10) + 1); }
      focusCurrent();
    } else {
      c.classList.add("sending");
    }
    send();
  }

  function load(url, force) {
    if (pending.length && !force) { return; }
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status >= 500 || r.status === 403) { throw new Error("The server failed (" + r.status + ")"); }
        return r.text();
      })
      .then(replaceArea)
      .catch(function (error) {
        var why = navigator.onLine === false ? "You are offline" : (/server/.test(error.message) ? error.message : "The connection was lost");
        var p = document.createElement("p");
        p.className = "error";
        p.setAttribute("role", "alert");
        p.setAttribute("data-testid", "screen-error");
        p.textContent = why + ": the record could not be loaded. ";
        var retry = document.createElement("button");
        retry.type = "button";
        retry.className = "link retry";
        retry.textContent = "Try again";
        retry.addEventListener("click", function () { p.remove(); load(url, force); });
        p.appendChild(retry);
        placeMessage(p);
      });
  }

  function undo() {
    if (pending.length) { return; }
    var body = new FormData();
    body.set("client_token", (crypto.randomUUID && crypto.randomUUID()) || "");
    pending.push({ url: area().getAttribute("data-undo-url"), body: body, tries: 0, optimistic: false, label: "undo" });
    markPending();
    send();
  }

  function openReasons(toggle) {
    var set = current() && current().querySelector(".decision-bar fieldset.reasons");
    if (!set) { return; }
    var open = toggle ? set.hasAttribute("data-folded") : true;
    if (open) { set.removeAttribute("data-folded"); } else { set.setAttribute("data-folded", ""); }
    var button = current().querySelector(".reasons-toggle");
    if (button) { button.setAttribute("aria-expanded", String(open)); }
  }

  function toggleReason(n) {
    var box = current() && current().querySelector('input[name=reasons][data-key="' + n + '"]');
    if (box) { openReasons(); box.checked = !box.checked; }
  }

  function focusIn(selector, fold) {
    var el = current() && current().querySelector(selector);
    if (!el) { return; }
    var details = el.closest(fold);
    if (details) { details.open = true; }
    el.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (!area() || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    var typing = target && (target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
      (target.tagName === "INPUT" && target.type !== "checkbox" && target.type !== "radio"));
    if (typing) {
      if (event.key === "Escape") { target.blur(); focusCurrent(); }
      return;
    }
    var key = event.key;
    var handled = true;
    if (key === "i") { decide("include"); }
    else if (key === "e") { decide("exclude"); }
    else if (key === "m") { decide("maybe"); }
    else if (key === "u") { undo(); }
    else if (key === "n") { focusIn(".decision-note", "details"); }
    else if (key === "t") { focusIn(".tag-input", "details"); }
    else if (key === "k" || key === "ArrowLeft") { var prev = area().getAttribute("data-previous-url"); if (prev) { load(prev); } }
    else if (key === "j" || key === "ArrowRight") { var next = area().getAttribute("data-next-url"); if (next) { load(next); } }
    else if (/^[1-9]$/.test(key)) { toggleReason(key); }
    else { handled = false; }
    if (handled) { event.preventDefault(); }
  });

  // Clicking the buttons goes the same way as the keys.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("form.decision-form button[name=value]");
    if (button && area() && area().contains(button)) {
      event.preventDefault();
      decide(button.value);
      return;
    }
    var reasonsButton = event.target.closest && event.target.closest(".reasons-toggle");
    if (reasonsButton) { event.preventDefault(); openReasons(true); return; }
    var undoButton = event.target.closest && event.target.closest("form.undo-form button");
    if (undoButton) { event.preventDefault(); undo(); return; }
    var nav = event.target.closest && event.target.closest("a.nav-prev, a.nav-next");
    if (nav) { event.preventDefault(); load(nav.getAttribute("href")); }
  });

  // htmx forms on this page (full text, tags, notes): the server's refusal (422) replaces the
  // part with its message beside the control; a failure without an answer is said beside the
  // form that was sent. The page's container is marked data-own-errors, so app.js leaves it.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var d = event.detail;
    if (d.xhr && d.xhr.status === 422 && d.elt && d.elt.closest && d.elt.closest("[data-own-errors]")) {
      d.shouldSwap = true;
      d.isError = false;
    }
  });

  function formError(form, text) {
    if (!form || !form.closest || !form.closest("[data-own-errors]")) { return; }
    form.querySelectorAll(".control-error").forEach(function (old) { old.remove(); });
    if (!text) { return; }
    var p = document.createElement("p");
    p.className = "error control-error client";
    p.setAttribute("role", "alert");
    p.setAttribute("data-testid", "report-error");
    p.textContent = text;
    form.appendChild(p);
  }

  document.body.addEventListener("htmx:responseError", function (event) {
    var d = event.detail, status = d.xhr ? d.xhr.status : 0;
    var text = status === 413 ? "That file is larger than the server accepts; upload a smaller PDF." :
      status === 403 ? "You may not do this here (403): your role does not allow it, or your session ended." :
      status === 404 ? "This record or page no longer exists (404); reload the page." :
      "The server failed (" + status + "); nothing was changed. Try again in a moment.";
    formError(d.elt && d.elt.closest ? d.elt.closest("form") : null, text);
  });
  document.body.addEventListener("htmx:sendError", function (event) {
    var d = event.detail;
    formError(d.elt && d.elt.closest ? d.elt.closest("form") : null,
      (navigator.onLine === false ? "You are offline" : "The connection was lost") +
      ": nothing was sent. Check the connection and press the button again.");
  });
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("form") : null;
    formError(form, "");
  });

  function megabytes(bytes, digits) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(digits) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  // A PDF over the limit is refused before it is sent (the server checks it again).
  document.body.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    var input = form && form.querySelector && form.querySelector("input[type=file][data-max-bytes]");
    if (!input || !input.files || !input.files.length) { return; }
    var limit = parseInt(input.getAttribute("data-max-bytes"), 10), size = input.files[0].size;
    if (limit && size > limit) {
      event.preventDefault();
      formError(form, "The file is " + megabytes(size, 1) + "; the limit is " + megabytes(limit, 0) +
        ". Upload a smaller PDF (e.g. without supplementary material).");
    }
  });

  // The progress asked for after the reviewer's own decision is counted afresh, so "screened by
  // me" and "left for me" agree; the 20-second poll shares the team's recent reading.
  document.body.addEventListener("htmx:configRequest", function (event) {
    var trigger = event.detail.triggeringEvent;
    if (trigger && trigger.type === "screening:decided" && event.detail.elt.id === "screen-progress") {
      event.detail.parameters.fresh = "1";
    }
  });

  // Records held by another reviewer: look again when their lease ends (or every 30 s, as
  // they may be given back earlier), so the reviewer need not reload.
  var heldTimer = null;
  function watchHeld() {
    if (heldTimer) { clearTimeout(heldTimer); heldTimer = null; }
    var time = area() && area().querySelector("[data-testid=queue-held] time");
    if (!time) { return; }
    var wait = new Date(time.getAttribute("datetime")).getTime() - Date.now() + 1500;
    heldTimer = setTimeout(function () {
      heldTimer = null;
      if (area()) { load(area().getAttribute("data-screen-url")); }
    }, Math.max(2000, Math.min(30000, isNaN(wait) ? 30000 : wait)));
  }

  // After "Mark not retrieved" the server sends the whole screening area (the next record).
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "screen-area") {
      localTimes(area());
      watchHeld();
      focusCurrent();
      document.body.dispatchEvent(new CustomEvent("screening:decided"));
    }
  });

  // The record on screen stays leased while the page is in view (reading a full text can take
  // longer than the lease); a lease lost meanwhile is said in the decision bar.
  function renew() {
    var form = current() && current().querySelector("form.decision-form[data-renew-url]");
    if (!form || pending.length || document.visibilityState === "hidden" ||
        area().hasAttribute("data-next-url")) { return; }
    fetch(form.getAttribute("data-renew-url"), {
      method: "POST",
      headers: { "X-CSRFToken": csrf(), "HX-Request": "true" },
      credentials: "same-origin",
    }).then(function (response) {
      if (response.status !== 409) { return; }
      return response.text().then(function (text) {
        if (!current() || !current().contains(form)) { return; }
        var old = current().querySelector("[data-testid=lease-lost]");
        if (old) { old.remove(); }
        var p = document.createElement("p");
        p.className = "error";
        p.setAttribute("role", "alert");
        p.setAttribute("data-testid", "lease-lost");
        p.textContent = text;
        placeMessage(p);
      });
    }).catch(function () { /* offline: said when a decision is sent */ });
  }
  var layout = document.querySelector(".screen-layout[data-renew-seconds]");
  var every = layout ? parseInt(layout.getAttribute("data-renew-seconds"), 10) : 0;
  if (every > 0) { setInterval(renew, every * 1000); }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { renew(); }
  });

  // Leaving the page gives its records back to the queue at once, not after the lease ends.
  window.addEventListener("pagehide", function () {
    var a = document.querySelector(".screen-layout[data-page-id]");
    if (!a || !a.getAttribute("data-page-id") || !navigator.sendBeacon) { return; }
    var body = new FormData();
    body.set("page_id", a.getAttribute("data-page-id"));
    body.set("csrfmiddlewaretoken", csrf());
    navigator.sendBeacon(a.getAttribute("data-release-url"), body);
  });

  // The criteria fold into a panel where there is no room beside the record.
  if (window.matchMedia && window.matchMedia("(max-width: 60rem)").matches) {
    document.querySelectorAll("details.criteria-panel").forEach(function (d) { d.open = false; });
  }

  localTimes(document);
  watchHeld();
  markPending();

  window.addEventListener("beforeunload", function (event) {
    if (pending.length) { event.preventDefault(); event.returnValue = ""; }
  });
})();
