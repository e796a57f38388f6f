/* Conflicts workspace: resolve by keyboard, move between conflicts without a reload, and show
 * every failure beside the buttons.
 *
 * The server does the work (htmx swaps #conflict-focus with the next conflict after a
 * resolution); this file adds the keys, puts a refused resolution's message (409: resolved by
 * someone else meanwhile, 422: a rule of the stage) in the space beside the buttons instead of
 * swapping the conflict away, and offers a retry when the connection is lost. The workspace is
 * marked [data-own-errors] so the page-wide htmx error display leaves it to this file.
 * Without JavaScript, the forms post and the page reloads.
 */
(function () {
  "use strict";

  var lastButton = null;     // the button that sent the last resolution (for a retry)
  // htmx wires up swapped-in content when it settles (20 ms later): a key pressed before that
  // would send the form the plain way. Such a key waits for the settle.
  var settling = false;
  var waitingKey = null;

  function focusBox() { return document.getElementById("conflict-focus"); }
  function errorsBox() { return document.getElementById("resolve-errors"); }
  function resolveForm() { var f = focusBox(); return f && f.querySelector(".resolve-form"); }

  function setBusy(busy) {
    var form = resolveForm();
    if (!form) { return; }
    form.querySelectorAll(".resolve-buttons button").forEach(function (b) { b.disabled = busy; });
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showError(text, withRetry) {
    var box = errorsBox();
    if (!box) { return; }
    box.textContent = "";
    window.setTimeout(function () { box.scrollIntoView({ block: "nearest" }); }, 0);
    var p = document.createElement("p");
    p.className = "resolve-error";
    p.setAttribute("data-testid", "resolve-error");
    p.textContent = text;
    box.appendChild(p);
    if (withRetry) {
      var retry = document.createElement("button");
      retry.type = "button";
      retry.className = "retry";
      retry.textContent = "Try again";
      retry.addEventListener("click", function () {
        if (lastButton && document.body.contains(lastButton)) { lastButton.click(); }
      });
      box.appendChild(retry);
    }
  }

  // Reasons and the note fold away until asked for (a reason key, n, or a refusal about them).
  function openMore(form) {
    var more = form && form.querySelector(".resolve-more");
    if (more) { more.open = true; }
  }

  function clearError() { var box = errorsBox(); if (box) { box.textContent = ""; } }

  // The list marks the conflict shown; the new conflict takes the keyboard focus and the top.
  function afterFocusSwap() {
    var box = focusBox();
    if (!box) { return; }
    var id = box.getAttribute("data-record-id");
    document.querySelectorAll(".conflict-row").forEach(function (row) {
      var current = id && row.getAttribute("data-record-id") === id;
      row.classList.toggle("is-current", !!current);
      var link = row.querySelector(".conflict-row-link");
      if (link) {
        if (current) { link.setAttribute("aria-current", "true"); } else { link.removeAttribute("aria-current"); }
      }
    });
    box.focus({ preventScroll: true });
    var top = box.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight / 2) { box.scrollIntoView({ block: "start" }); }
  }

  // The previous/next links carry hx-get and hx-push-url: a click keeps htmx's history right.
  function go(which) {
    var box = focusBox();
    var link = box && box.querySelector(which === "next" ? ".nav-next" : ".nav-prev");
    if (link) { link.click(); }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("resolve-form")) { return; }
    lastButton = event.submitter || null;
  }, true);

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.target.classList && event.target.classList.contains("resolve-form")) {
      clearError();
      setBusy(true);
    }
  });

  // A refusal's answer goes beside the buttons; the conflict stays on screen.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 409 || status === 422) {
      var box = errorsBox();
      if (box && event.detail.requestConfig && event.detail.requestConfig.elt &&
          event.detail.requestConfig.elt.closest("[data-own-errors]")) {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
        event.detail.target = box;
        event.detail.swapOverride = "innerHTML";
        if (status === 422) { openMore(resolveForm()); }
      }
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.closest || !elt.closest("[data-own-errors]")) { return; }
    setBusy(false);
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (event.detail.successful || status === 409 || status === 422) { return; }
    if (status >= 400) {
      showError("The server could not take this (error " + status + "). Nothing was stored; try again, or reload the page.", true);
    }
  });

  document.addEventListener("htmx:sendError", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.closest || !elt.closest("[data-own-errors]")) { return; }
    setBusy(false);
    if (errorsBox()) {
      showError("The connection was lost: the resolution may not have reached the server. Try again (it is stored once).", true);
    } else {
      var box = focusBox();
      if (box) {
        var p = document.createElement("p");
        p.className = "error";
        p.setAttribute("role", "alert");
        p.textContent = "The connection was lost; the next conflict could not be loaded. Try again.";
        box.insertBefore(p, box.firstChild);
      }
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.shouldSwap && event.detail.target && event.detail.target.id === "conflict-focus") {
      settling = true;
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!settling) { return; }
    settling = false;
    if (waitingKey) { var key = waitingKey; waitingKey = null; handleKey(key, null); }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "resolve-errors") {
      event.detail.target.scrollIntoView({ block: "nearest" });
      return;
    }
    if (focusBox() && (event.detail.target === focusBox() || event.detail.target.id === "conflict-focus" || !document.body.contains(event.detail.target))) {
      afterFocusSwap();
    }
  });

  function typing(el) {
    if (!el) { return false; }
    var tag = el.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && el.type !== "checkbox") || el.isContentEditable;
  }

  var KEYS = /^([ijekn1-9]|ArrowRight|ArrowLeft)$/;

  // One key of the workspace; event is null for a key replayed after a settle.
  function handleKey(key, event) {
    function take() { if (event) { event.preventDefault(); } }
    var form = resolveForm();
    if (key === "j" || key === "ArrowRight") { take(); go("next"); return; }
    if (key === "k" || key === "ArrowLeft") { take(); go("previous"); return; }
    if (!form) { return; }
    if (key === "i" || key === "e") {
      var button = form.querySelector('button[data-key="' + key + '"]');
      // A click, not requestSubmit: htmx sends the value of the button last clicked.
      if (button && !button.disabled) { take(); button.click(); }
      return;
    }
    if (key === "n") {
      var note = form.querySelector(".resolve-note");
      if (note) { take(); openMore(form); note.focus(); }
      return;
    }
    if (/^[1-9]$/.test(key)) {
      var box = form.querySelector('input[data-key="' + key + '"]');
      if (box) { take(); openMore(form); box.checked = !box.checked; }
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (!focusBox()) { return; }
    if (event.key === "Escape" && typing(document.activeElement)) { document.activeElement.blur(); return; }
    if (typing(document.activeElement) || !KEYS.test(event.key)) { return; }
    if (settling) { event.preventDefault(); waitingKey = event.key; return; }
    handleKey(event.key, event);
  });
})();
