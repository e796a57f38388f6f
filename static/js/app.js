/* reviewapp: what every page needs from script. Loaded (not deferred) from base.html.
 *
 * 1. The phone menu: the header's sections fold behind a "Menu" button. Without script the
 *    button stays hidden and the menu stays open (html.js is what folds it, in app.css).
 * 2. Failures of htmx requests shown where they happened: a request the server refuses gets the
 *    server's message beside the control that sent it; a lost connection gets "Connection lost"
 *    and a button that sends the same request again. Cleared when that control next succeeds.
 *    Elements inside [data-own-errors] are left to their page's own script.
 * 3. Tables scroll inside their own box on a narrow screen instead of widening the page: each is
 *    wrapped in a labelled region, focusable (so keyboard users can scroll it) while it scrolls.
 *
 * No inline handlers and no eval: the Content-Security-Policy refuses both.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  /* ---- phone menu ---------------------------------------------------------------------- */

  function menuSetUp() {
    var button = document.querySelector(".nav-toggle");
    var menu = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!button || !menu) return;
    button.hidden = false;
    function set(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
    }
    button.addEventListener("click", function () {
      set(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        set(false);
        button.focus();
      }
    });
  }

  /* ---- tables ------------------------------------------------------------------------ */

  function tableLabel(table) {
    var caption = table.querySelector("caption");
    if (caption && caption.textContent.trim()) return caption.textContent.trim();
    if (table.getAttribute("aria-label")) return table.getAttribute("aria-label");
    // The nearest heading before the table names what it lists.
    var headings = document.querySelectorAll("main h1, main h2, main h3");
    var label = "";
    for (var i = 0; i < headings.length; i++) {
      if (headings[i].compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING) {
        label = headings[i].textContent.trim();
      }
    }
    return label ? label + " (table)" : "Table";
  }

  function tablesWrap(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var tables = scope.querySelectorAll("main table");
    if (scope.tagName === "TABLE") tables = [scope];
    Array.prototype.forEach.call(tables, function (table) {
      if (table.parentElement.classList.contains("table-wrap")) return;
      var wrap = document.createElement("div");
      wrap.className = "table-wrap";
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", tableLabel(table));
      table.parentNode.insertBefore(wrap, table);
      wrap.appendChild(table);
    });
    tablesFocusable();
  }

  function tablesFocusable() {
    Array.prototype.forEach.call(document.querySelectorAll(".table-wrap"), function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth + 1) wrap.setAttribute("tabindex", "0");
      else wrap.removeAttribute("tabindex");
    });
  }

  /* ---- htmx failures ------------------------------------------------------------------- */

  // Longer than this, a response is a page rather than a message: say what happened instead.
  var MAX_MESSAGE = 400;
  var STATUS_SENTENCES = {
    400: "The server could not understand this request. Reload the page and try again.",
    403: "Your role in this review does not allow this.",
    404: "This is no longer there (it may have been removed). Reload the page.",
    409: "Someone else changed this at the same time. Reload the page to see their change.",
    413: "The file is too large to upload.",
    422: "This could not be saved: check what you entered.",
    429: "Too many requests in a short time. Wait a minute, then try again.",
  };
  var shown = new WeakMap(); // the element that sent a request -> the message shown for it

  function ownErrors(elt) {
    return !elt || !elt.closest || elt.closest("[data-own-errors]") !== null;
  }

  function textOfResponse(xhr) {
    var type = (xhr.getResponseHeader("Content-Type") || "").toLowerCase();
    var body = xhr.responseText || "";
    if (!body.trim()) return "";
    if (type.indexOf("text/plain") === 0) {
      return body.length <= MAX_MESSAGE ? body.trim() : "";
    }
    if (type.indexOf("text/html") !== 0) return "";
    // Parsed, never inserted: only the text is shown, so the response cannot run anything.
    var doc = new DOMParser().parseFromString(body, "text/html");
    if (doc.querySelector("main")) {
      // One of our full pages (the styled 403): its message, not the whole page; a page
      // without one (404, 500) gets the sentence for its status.
      var message = doc.querySelector("main .error, main [role=alert]");
      return message ? message.textContent.replace(/\s+/g, " ").trim() : "";
    }
    var text = (doc.body ? doc.body.textContent : "").replace(/\s+/g, " ").trim();
    return text.length <= MAX_MESSAGE ? text : "";
  }

  function statusSentence(xhr) {
    var status = xhr.status;
    var sentence = STATUS_SENTENCES[status] ||
      (status >= 500
        ? "Something went wrong on our side. Nothing was saved from this attempt; try again in a minute."
        : "The server refused this.");
    return sentence + " (" + status + (xhr.statusText ? " " + xhr.statusText : "") + ")";
  }

  // Where the message goes: right after the control, inside a form when the form sent it.
  function place(elt, node) {
    var tag = elt.tagName;
    if (tag === "TR" || tag === "TBODY" || tag === "THEAD" || tag === "TABLE") {
      // Nothing but rows may sit between rows: the message goes under the table.
      var table = elt.closest("table");
      var box = table.parentElement.classList.contains("table-wrap") ? table.parentElement : table;
      box.insertAdjacentElement("afterend", node);
    } else if (tag === "FORM" || tag === "LI" || tag === "TD" || tag === "TH") {
      elt.appendChild(node);
    } else if (elt === document.body || elt === document.documentElement) {
      var main = document.getElementById("main");
      main.insertBefore(node, main.firstChild);
    } else {
      elt.insertAdjacentElement("afterend", node);
    }
  }

  function clear(elt) {
    var node = shown.get(elt);
    if (node) {
      node.remove();
      shown.delete(elt);
    }
  }

  function show(elt, text, retry) {
    clear(elt);
    var node = document.createElement("p");
    node.className = "request-error";
    node.setAttribute("role", "alert");
    var span = document.createElement("span");
    span.textContent = text;
    node.appendChild(span);
    if (retry) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "request-retry";
      button.textContent = "Retry";
      button.addEventListener("click", function () {
        clear(elt);
        retry();
      });
      node.appendChild(document.createTextNode(" "));
      node.appendChild(button);
    }
    place(elt, node);
    shown.set(elt, node);
  }

  function valuesOf(config) {
    // The submitted values (the pressed button's included) as htmx.ajax takes them.
    var values = {};
    var data = config && (config.formData || config.parameters);
    if (!data || typeof data.forEach !== "function") return values;
    data.forEach(function (value, key) {
      if (!(key in values)) values[key] = value;
      else if (Array.isArray(values[key])) values[key].push(value);
      else values[key] = [values[key], value];
    });
    return values;
  }

  function resend(detail) {
    var config = detail.requestConfig || {};
    var elt = detail.elt;
    return function () {
      if (!window.htmx || !elt.isConnected) {
        window.location.reload();
        return;
      }
      window.htmx.ajax(config.verb || "get", config.path, {
        source: elt,
        target: detail.target,
        values: valuesOf(config),
      });
    };
  }

  function onRefused(event) {
    var detail = event.detail;
    if (ownErrors(detail.elt)) return;
    show(detail.elt, textOfResponse(detail.xhr) || statusSentence(detail.xhr), null);
  }

  function onLost(event) {
    var detail = event.detail;
    if (ownErrors(detail.elt)) return;
    show(detail.elt, "Connection lost - check your connection, then retry.", resend(detail));
  }

  function onDone(event) {
    var detail = event.detail;
    if (detail.successful && detail.elt) clear(detail.elt);
  }

  document.addEventListener("htmx:responseError", onRefused);
  document.addEventListener("htmx:sendError", onLost);
  document.addEventListener("htmx:timeout", onLost);
  document.addEventListener("htmx:afterRequest", onDone);

  document.addEventListener("htmx:load", function (event) {
    tablesWrap(event.detail.elt);
  });
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(tablesFocusable, 150);
  });

  function ready() {
    menuSetUp();
    tablesWrap(document);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
