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

  function area() { return document.getElementById("screen-area"); }
  function current() { return area() && area().querySelector(".screen-current"); }
  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function banner(text) {
    var box = document.getElementById("screen-banner");
    if (!box) {
      box = document.createElement("p");
      box.id = "screen-banner";
      box.className = "error";
      box.setAttribute("role", "alert");
      area().parentNode.insertBefore(box, area());
    }
    box.textContent = text;
    box.hidden = !text;
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

  // A decision refused (e.g. the record was settled meanwhile) while the reviewer had already
  // moved on: its message is shown once the last answer is on screen, never dropped.
  function showRefusals() {
    if (!refusals.length || !area()) { return; }
    var first = area().firstElementChild;
    refusals.forEach(function (text) {
      var p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.setAttribute("data-testid", "screen-error");
      p.textContent = text;
      area().insertBefore(p, first);
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
      if (result.status >= 500) { throw new Error("server " + result.status); }
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
      } else {
        banner("The decision was refused (" + result.status + "). Reload the page.");
      }
    }).catch(function () {
      sending = false;
      item.tries += 1;
      banner("Not saved yet; retrying (" + item.tries + ")… Your decision is kept and will be sent once.");
      setTimeout(send, Math.min(8000, 500 * Math.pow(2, item.tries)));
    });
  }

  function decide(value) {
    var c = current();
    var form = c && c.querySelector("form.decision-form");
    // A record already sent (waiting for the server's answer) takes no second decision.
    if (!form || c.classList.contains("sending")) { return; }
    var body = new FormData(form);
    body.set("value", value);
    var template = area().querySelector("template.screen-prefetch");
    // Instant at title/abstract. Full text waits for the server (a reason may be missing).
    var optimistic = Boolean(template) && area().getAttribute("data-stage") === "ta" && !pending.length;
    var item = { url: form.action, body: body, tries: 0, optimistic: optimistic };
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
      .then(function (r) { return r.text(); })
      .then(replaceArea);
  }

  function undo() {
    if (pending.length) { return; }
    var body = new FormData();
    body.set("client_token", (crypto.randomUUID && crypto.randomUUID()) || "");
    pending.push({ url: area().getAttribute("data-undo-url"), body: body, tries: 0, optimistic: false });
    markPending();
    send();
  }

  function toggleReason(n) {
    var box = current() && current().querySelector('input[name=reasons][data-key="' + n + '"]');
    if (box) { box.checked = !box.checked; }
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
    else if (key === "n") { var note = current() && current().querySelector(".decision-note"); if (note) { note.focus(); } }
    else if (key === "t") { var tag = current() && current().querySelector(".tag-input"); if (tag) { tag.focus(); } }
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
    var undoButton = event.target.closest && event.target.closest("form.undo-form button");
    if (undoButton) { event.preventDefault(); undo(); return; }
    var nav = event.target.closest && event.target.closest("a.nav-prev, a.nav-next");
    if (nav) { event.preventDefault(); load(nav.getAttribute("href")); }
  });

  markPending();

  window.addEventListener("beforeunload", function (event) {
    if (pending.length) { event.preventDefault(); event.returnValue = ""; }
  });
})();
