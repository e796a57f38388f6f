/* The form builder (templates/extraction/form_edit.html): add, move and remove cards and sections
 * in the page at once, keep the preview in step with the draft, and warn before unsaved changes
 * are lost.
 *
 * Without this script every builder button posts the draft and the server draws the page again
 * with the change made (reviewapp/extraction/builder.py, draft_apply); nothing is saved until
 * "Save". The page sends its cards in document order, so moving an element here is all a move
 * needs: no renumbering.
 */
(function () {
  "use strict";

  var form = document.getElementById("builder");
  if (!form) { return; }
  var dirty = false;
  var saving = false;
  var counter = 0;

  function status(text) {
    var box = form.querySelector(".b-status");
    if (box) { box.textContent = text; }
  }

  function changed(message) {
    dirty = true;
    status(message || "Unsaved changes: save to make a new version.");
    document.body.dispatchEvent(new CustomEvent("builder-changed", { bubbles: true }));
  }

  function newUid() {
    counter += 1;
    return "n" + Date.now().toString(36) + counter.toString(36);
  }

  function fromTemplate(id, uid) {
    var template = document.getElementById(id);
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.split("__uid__").join(uid).trim();
    return holder.firstElementChild;
  }

  function nameOf(element) {
    var span = element.querySelector(".b-name");
    return span ? span.textContent : "";
  }

  // The visible card title and the hidden words on its buttons follow what is typed.
  function rename(element, text) {
    var span = element.querySelector(".b-name");
    if (span) { span.textContent = text.trim() || span.getAttribute("data-empty"); }
    var own = element.classList.contains("b-section")
      ? element.querySelector(".b-section-head").querySelectorAll(".b-name-hidden")
      : element.querySelectorAll(".b-name-hidden");
    Array.prototype.forEach.call(own, function (hidden) { hidden.textContent = " " + text.trim(); });
  }

  function addCard(section) {
    var card = fromTemplate("b-card-template", newUid());
    section.querySelector(".b-cards").appendChild(card);
    card.querySelector(".b-label-input").focus();
    changed("Field added to " + nameOf(section) + ".");
    return card;
  }

  function addSection() {
    var section = fromTemplate("b-section-template", newUid());
    form.querySelector(".b-sections").appendChild(section);
    addCard(section);
    section.querySelector(".b-title-input").focus();
    changed("Section added at the end.");
  }

  function sections() { return Array.prototype.slice.call(form.querySelectorAll(".b-section")); }

  // A card moves within its section, and past either end into the section before or after.
  function moveCard(card, up) {
    var section = card.closest(".b-section");
    var list = card.parentNode;
    var all = sections();
    var index = all.indexOf(section);
    if (up) {
      var before = card.previousElementSibling;
      if (before) { list.insertBefore(card, before); }
      else if (index > 0) { all[index - 1].querySelector(".b-cards").appendChild(card); }
      else { return "already first"; }
    } else {
      var after = card.nextElementSibling;
      if (after) { list.insertBefore(after, card); }
      else if (index < all.length - 1) {
        var next = all[index + 1].querySelector(".b-cards");
        next.insertBefore(card, next.firstElementChild);
      } else { return "already last"; }
    }
    var where = card.closest(".b-section");
    var position = Array.prototype.indexOf.call(card.parentNode.children, card) + 1;
    return "now " + position + " of " + card.parentNode.children.length + " in " + nameOf(where);
  }

  function moveSection(section, up) {
    var all = sections();
    var index = all.indexOf(section);
    if (up && index > 0) { section.parentNode.insertBefore(section, all[index - 1]); }
    else if (!up && index < all.length - 1) { section.parentNode.insertBefore(all[index + 1], section); }
    else { return up ? "already first" : "already last"; }
    return "now section " + (sections().indexOf(section) + 1) + " of " + all.length;
  }

  // The last removed card or section, to put back where it was.
  var removed = null;
  var undo = document.createElement("button");
  undo.type = "button";
  undo.className = "b-undo";
  undo.hidden = true;
  undo.addEventListener("click", function () {
    if (!removed) { return; }
    var parent = removed.parent;
    if (!document.body.contains(parent)) {
      // Its section went too: the card goes back to the last section.
      var last = sections().pop();
      parent = last ? last.querySelector(".b-cards") : form.querySelector(".b-sections");
    }
    var next = removed.next && removed.next.parentNode === parent ? removed.next : null;
    parent.insertBefore(removed.element, next);
    var field = removed.element.querySelector("input:not([type=hidden])");
    if (field) { field.focus(); }
    var name = nameOf(removed.element);
    removed = null;
    undo.hidden = true;
    changed("Put back " + name + ".");
  });

  function forget(element) {
    removed = { element: element, parent: element.parentNode, next: element.nextElementSibling };
    element.parentNode.removeChild(element);
    undo.textContent = "Undo: put back " + nameOf(element);
    undo.hidden = false;
  }

  function removeCard(card) {
    var section = card.closest(".b-section");
    var next = card.nextElementSibling || card.previousElementSibling;
    var name = nameOf(card);
    forget(card);
    var target = next ? next.querySelector(".b-remove") : section.querySelector(".b-add-field");
    target.focus();
    changed("Removed " + name + ". Nothing is saved until you save.");
  }

  function removeSection(section) {
    var count = section.querySelectorAll(".b-card").length;
    var name = nameOf(section);
    if (count > 1 && !window.confirm("Remove the section " + name + " and its " + count + " fields?")) {
      return;
    }
    var all = sections();
    var index = all.indexOf(section);
    forget(section);
    var rest = sections();
    var target = rest.length ? rest[Math.min(index, rest.length - 1)].querySelector(".b-title-input")
      : form.querySelector(".b-add-section");
    target.focus();
    changed("Removed the section " + name + ". Nothing is saved until you save.");
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[name=op]");
    if (!button || !form.contains(button)) { return; }
    var parts = button.value.split(":");
    var verb = parts[0];
    var target = parts[1] ? document.getElementById(parts[1]) : null;
    if (verb === "save") { saving = true; return; }
    event.preventDefault();
    if (verb === "refresh") { changed(); return; }
    if (verb === "add-section") { addSection(); return; }
    if (!target) { return; }
    var isSection = target.classList.contains("b-section");
    if (verb === "add-field") { addCard(target); return; }
    if (verb === "remove") { if (isSection) { removeSection(target); } else { removeCard(target); } return; }
    if (verb === "up" || verb === "down") {
      var result = isSection ? moveSection(target, verb === "up") : moveCard(target, verb === "up");
      button.focus();
      changed("Moved " + nameOf(target) + ": " + result + ".");
    }
  });

  form.addEventListener("input", function (event) {
    var input = event.target;
    if (input.classList.contains("b-label-input")) { rename(input.closest(".b-card"), input.value); }
    if (input.classList.contains("b-title-input")) { rename(input.closest(".b-section"), input.value); }
    changed();
  });
  form.addEventListener("change", function () { changed(); });

  // Enter in a one-line box would press the form's first button; here it does nothing.
  form.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.tagName === "INPUT") { event.preventDefault(); }
  });

  form.addEventListener("submit", function () { saving = true; });
  document.addEventListener("submit", function (event) {
    // The template buttons and the other forms on the page leave the draft on purpose.
    if (event.target !== form) { saving = true; }
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty && !saving) { event.preventDefault(); event.returnValue = ""; }
  });

  // The preview is live, so its button is only needed without script.
  var refresh = form.querySelector(".b-refresh");
  if (refresh) { refresh.hidden = true; }

  // Fold every card to its title and buttons, to reorder a long form at a glance.
  var fold = document.createElement("button");
  fold.type = "button";
  fold.className = "b-fold";
  fold.textContent = "Fold cards";
  fold.addEventListener("click", function () {
    var folded = form.classList.toggle("b-folded");
    fold.textContent = folded ? "Unfold cards" : "Fold cards";
  });
  var save = form.querySelector(".b-save");
  save.parentNode.insertBefore(fold, save.nextSibling);
  form.querySelector(".b-status").insertAdjacentElement("afterend", undo);
  document.body.setAttribute("data-builder-ready", "true");
}());
