/* The PDF viewer beside the decision bar and the extraction form (templates/screening/partials/_pdf_viewer.html).
 *
 * pdf.js (static/vendor/pdfjs-*) draws each page on a canvas with its text layer over it, so the
 * text can be selected; a page is drawn only when it scrolls near the view, since full texts run
 * to dozens of pages. The review's keywords are marked in the text layer in the colours the
 * abstract uses (reviewapp/screening/highlight.py: the same matching rules, mirrored below).
 *
 * Annotations (data-annotations-url): a selection opens a small form to comment on the passage or
 * name it the source of an extraction field; the member's annotations (and, where blinding allows,
 * the others') are drawn over the pages and listed beside them; a list entry, or a link with
 * #annotation-<id>, scrolls to its passage. Positions are kept as rectangles in fractions of the
 * page, so they hold at any zoom.
 *
 * A viewer may arrive after the page loaded (the screening page swaps in the prefetched record):
 * a MutationObserver opens every [data-pdf-viewer] that appears.
 */

const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];
let library = null;

function pdfjs(root) {
  if (!library) {
    library = import(root.dataset.lib).then((lib) => {
      lib.GlobalWorkerOptions.workerSrc = root.dataset.worker;
      return lib;
    });
  }
  return library;
}

/* --- keywords, as reviewapp/screening/highlight.py matches them ------------------------------ */

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function keywordPattern(include, exclude) {
  const keyed = include.map((k) => [k, "include"]).concat(exclude.map((k) => [k, "exclude"]));
  keyed.sort((a, b) => b[0].length - a[0].length);
  const parts = [];
  const kinds = [];
  for (const [raw, kind] of keyed) {
    let keyword = raw.trim();
    const prefix = keyword.endsWith("*");
    keyword = keyword.replace(/\*+$/, "").trim();
    if (!keyword) continue;
    const body = keyword.split(/\s+/).map(escapeRegExp).join("\\s+");
    // Python's \w is Unicode-aware; so is this class.
    parts.push("((?<![\\p{L}\\p{N}_])" + body + (prefix ? "[\\p{L}\\p{N}_]*" : "(?![\\p{L}\\p{N}_])") + ")");
    kinds.push(kind);
  }
  if (!parts.length) return null;
  return { regex: new RegExp(parts.join("|"), "giu"), kinds };
}

function markKeywords(span, pattern) {
  const text = span.textContent;
  if (!text || !pattern) return 0;
  pattern.regex.lastIndex = 0;
  const pieces = [];
  let position = 0;
  let match;
  while ((match = pattern.regex.exec(text)) !== null) {
    if (match[0].length === 0) { pattern.regex.lastIndex += 1; continue; }
    let group = 1;
    while (group < match.length && match[group] === undefined) group += 1;
    pieces.push([text.slice(position, match.index), null]);
    pieces.push([match[0], pattern.kinds[group - 1]]);
    position = match.index + match[0].length;
  }
  if (!pieces.length) return 0;
  pieces.push([text.slice(position), null]);
  span.textContent = "";
  let marked = 0;
  for (const [piece, kind] of pieces) {
    if (!piece) continue;
    if (kind) {
      const mark = document.createElement("mark");
      mark.className = "kw-" + kind;
      mark.textContent = piece;
      span.append(mark);
      marked += 1;
    } else {
      span.append(document.createTextNode(piece));
    }
  }
  return marked;
}

/* --- the viewer -------------------------------------------------------------------------------- */

class Viewer {
  constructor(root) {
    this.root = root;
    this.scroller = root.querySelector(".pdf-pages");
    this.status = root.querySelector(".pdf-status");
    this.pageCount = root.querySelector("[data-page-count]");
    this.pageNow = root.querySelector("[data-page-now]");
    this.zoomLabel = root.querySelector("[data-zoom-level]");
    const keywords = JSON.parse(root.dataset.keywords || "{}");
    this.pattern = keywordPattern(keywords.include || [], keywords.exclude || []);
    this.scale = null; // set to fit the width once the first page is known
    this.pages = [];
    this.annotations = [];
    this.fields = JSON.parse(root.dataset.fields || "[]");
    this.pendingJump = null;
  }

  async open() {
    try {
      const lib = await pdfjs(this.root);
      this.lib = lib;
      this.doc = await lib.getDocument({ url: this.root.dataset.src, isEvalSupported: false }).promise;
    } catch (error) {
      this.say("The PDF could not be shown here: " + (error && error.message ? error.message : error) + ". Use “Open the PDF” instead.", true);
      return;
    }
    const first = await this.doc.getPage(1);
    this.base = first.getViewport({ scale: 1 });
    if (this.pageCount) this.pageCount.textContent = String(this.doc.numPages);
    this.scale = this.fitScale();
    this.layout();
    this.root.classList.add("pdf-ready");
    this.root.dataset.pages = String(this.doc.numPages);
    this.say("");
    this.bindToolbar();
    this.observe();
    if (this.root.dataset.annotationsUrl) {
      await this.loadAnnotations();
      this.bindSelection();
      this.root.dataset.annotationsReady = "true";
    }
    const hash = window.location.hash.match(/^#annotation-(\d+)$/);
    if (hash && this.annotations.some((a) => a.id === Number(hash[1]))) {
      this.root.scrollIntoView({ block: "start" });
      this.jumpTo(Number(hash[1]));
    }
  }

  say(text, isError) {
    if (!this.status) return;
    this.status.textContent = text;
    this.status.classList.toggle("error", Boolean(isError));
  }

  fitScale() {
    const width = this.scroller.clientWidth - 16;
    return Math.max(0.3, Math.min(3, width / this.base.width));
  }

  layout() {
    // One box per page, sized before it is drawn, so the scroll bar is right from the start.
    this.scroller.textContent = "";
    this.pages = [];
    for (let n = 1; n <= this.doc.numPages; n += 1) {
      const box = document.createElement("div");
      box.className = "pdf-page";
      box.dataset.page = String(n);
      box.setAttribute("aria-label", "Page " + n);
      box.setAttribute("role", "region");
      this.size(box, this.base);
      this.scroller.append(box);
      this.pages.push({ box, drawn: false, drawing: null, viewport: null });
    }
    if (this.zoomLabel) this.zoomLabel.textContent = Math.round(this.scale * 100) + "%";
  }

  size(box, unitViewport) {
    box.style.width = Math.floor(unitViewport.width * this.scale) + "px";
    box.style.height = Math.floor(unitViewport.height * this.scale) + "px";
    box.style.setProperty("--scale-factor", String(this.scale));
    box.style.setProperty("--total-scale-factor", String(this.scale));
  }

  observe() {
    if (this.observer) this.observer.disconnect();
    this.observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const n = Number(entry.target.dataset.page);
        if (entry.isIntersecting) this.draw(n);
      }
      this.updatePageNow();
    }, { root: this.scroller, rootMargin: "300px 0px" });
    for (const page of this.pages) this.observer.observe(page.box);
    this.scroller.addEventListener("scroll", () => this.updatePageNow(), { passive: true });
  }

  updatePageNow() {
    if (!this.pageNow) return;
    const top = this.scroller.scrollTop + this.scroller.clientHeight / 3;
    let current = 1;
    for (const page of this.pages) {
      if (page.box.offsetTop <= top) current = Number(page.box.dataset.page);
    }
    this.pageNow.textContent = String(current);
  }

  draw(n) {
    const page = this.pages[n - 1];
    if (!page || page.drawn || page.drawing) return page && page.drawing;
    const scale = this.scale;
    page.drawing = (async () => {
      const pdfPage = await this.doc.getPage(n);
      const unit = pdfPage.getViewport({ scale: 1 });
      const viewport = pdfPage.getViewport({ scale });
      if (scale !== this.scale) return; // zoomed meanwhile: the new layout draws it
      this.size(page.box, unit);
      const ratio = window.devicePixelRatio || 1;
      const canvas = document.createElement("canvas");
      canvas.width = Math.floor(viewport.width * ratio);
      canvas.height = Math.floor(viewport.height * ratio);
      canvas.setAttribute("aria-hidden", "true");
      const context = canvas.getContext("2d");
      await pdfPage.render({
        canvasContext: context,
        viewport,
        transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null,
      }).promise;
      const notes = document.createElement("div");
      notes.className = "pdf-annotation-layer";
      const text = document.createElement("div");
      text.className = "textLayer";
      page.box.textContent = "";
      page.box.append(canvas, notes, text);
      const layer = new this.lib.TextLayer({
        textContentSource: pdfPage.streamTextContent({ includeMarkedContent: true }),
        container: text,
        viewport,
      });
      await layer.render();
      let marked = 0;
      for (const span of layer.textDivs) marked += markKeywords(span, this.pattern);
      page.box.dataset.keywords = String(marked);
      page.viewport = viewport;
      page.drawn = true;
      page.box.classList.add("pdf-page-drawn");
      this.drawAnnotations(n);
    })().catch((error) => {
      this.say("Page " + n + " could not be drawn: " + (error && error.message ? error.message : error), true);
    }).finally(() => { page.drawing = null; });
    return page.drawing;
  }

  zoom(to) {
    const scroll = this.scroller.scrollTop / Math.max(1, this.scroller.scrollHeight);
    this.scale = to;
    this.layout();
    this.observe();
    this.scroller.scrollTop = scroll * this.scroller.scrollHeight;
  }

  bindToolbar() {
    this.root.querySelectorAll("[data-zoom]").forEach((button) => {
      button.addEventListener("click", () => {
        const how = button.dataset.zoom;
        if (how === "fit") { this.zoom(this.fitScale()); return; }
        const index = ZOOMS.findIndex((z) => z >= this.scale - 0.001);
        let next;
        if (how === "in") next = ZOOMS.find((z) => z > this.scale + 0.001) || ZOOMS[ZOOMS.length - 1];
        else next = [...ZOOMS].reverse().find((z) => z < this.scale - 0.001) || ZOOMS[0];
        if (index >= 0 || next) this.zoom(next);
      });
    });
  }

  /* --- annotations ---------------------------------------------------------------------------- */

  async loadAnnotations() {
    try {
      const response = await fetch(this.root.dataset.annotationsUrl, {
        headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      if (!response.ok) throw new Error("the server answered " + response.status);
      const body = await response.json();
      this.annotations = body.annotations || [];
      this.canAnnotate = Boolean(body.can_annotate);
    } catch (error) {
      this.say("The annotations could not be loaded: " + error.message, true);
      this.annotations = [];
    }
    this.renderList();
    for (const page of this.pages) if (page.drawn) this.drawAnnotations(Number(page.box.dataset.page));
  }

  drawAnnotations(n) {
    const page = this.pages[n - 1];
    if (!page || !page.drawn) return;
    const layer = page.box.querySelector(".pdf-annotation-layer");
    layer.textContent = "";
    for (const note of this.annotations) {
      if (note.page !== n) continue;
      for (const rect of note.rects) {
        const box = document.createElement("div");
        box.className = "pdf-annotation" + (note.field_key ? " pdf-annotation-source" : "") + (note.mine ? "" : " pdf-annotation-other");
        box.dataset.annotation = String(note.id);
        box.style.left = rect[0] * 100 + "%";
        box.style.top = rect[1] * 100 + "%";
        box.style.width = rect[2] * 100 + "%";
        box.style.height = rect[3] * 100 + "%";
        box.title = (note.field_label ? "Source of " + note.field_label : note.comment || note.quote) + " (" + note.author + ")";
        layer.append(box);
      }
    }
  }

  renderList() {
    const list = this.root.querySelector(".pdf-annotation-list");
    if (!list) return;
    list.textContent = "";
    const empty = this.root.querySelector(".pdf-annotations-empty");
    if (empty) empty.hidden = this.annotations.length > 0;
    const sorted = [...this.annotations].sort((a, b) => a.page - b.page || (a.rects[0] || [0, 0])[1] - (b.rects[0] || [0, 0])[1]);
    for (const note of sorted) {
      const item = document.createElement("li");
      item.dataset.annotation = String(note.id);
      const jump = document.createElement("button");
      jump.type = "button";
      jump.className = "link pdf-annotation-jump";
      jump.textContent = "p. " + note.page + " “" + (note.quote.length > 90 ? note.quote.slice(0, 88) + "…" : note.quote) + "”";
      jump.addEventListener("click", () => this.jumpTo(note.id));
      item.append(jump);
      const about = document.createElement("p");
      about.className = "pdf-annotation-about";
      const parts = [];
      if (note.field_label) parts.push("Source of " + note.field_label);
      if (note.comment) parts.push(note.comment);
      about.textContent = parts.join(" · ");
      const who = document.createElement("span");
      who.className = "muted";
      who.textContent = " — " + note.author;
      about.append(who);
      item.append(about);
      if (note.mine && note.delete_url) {
        const form = document.createElement("form");
        form.method = "post";
        form.action = note.delete_url;
        form.className = "inline";
        const button = document.createElement("button");
        button.type = "submit";
        button.className = "link";
        button.textContent = "Delete";
        button.setAttribute("aria-label", "Delete the annotation on page " + note.page);
        form.append(button);
        form.addEventListener("submit", (event) => { event.preventDefault(); this.remove(note); });
        item.append(form);
      }
      list.append(item);
    }
  }

  async jumpTo(id) {
    const note = this.annotations.find((a) => a.id === id);
    if (!note) return;
    const page = this.pages[note.page - 1];
    if (!page) return;
    this.scroller.scrollTop = page.box.offsetTop;
    await this.draw(note.page);
    const first = page.box.querySelector('[data-annotation="' + id + '"]');
    if (first) {
      this.scroller.scrollTop = page.box.offsetTop + first.offsetTop - 40;
      page.box.querySelectorAll(".pdf-annotation-focus").forEach((el) => el.classList.remove("pdf-annotation-focus"));
      page.box.querySelectorAll('[data-annotation="' + id + '"]').forEach((el) => el.classList.add("pdf-annotation-focus"));
    }
    this.root.dataset.jumpedTo = String(id);
  }

  bindSelection() {
    const form = this.root.querySelector(".pdf-annotate");
    if (!form || !this.canAnnotate) return;
    const quote = form.querySelector(".pdf-annotate-quote");
    const capture = () => {
      const selection = window.getSelection();
      if (!selection || selection.isCollapsed || !selection.rangeCount) return;
      const range = selection.getRangeAt(0);
      const box = range.commonAncestorContainer.nodeType === 1
        ? range.commonAncestorContainer.closest(".pdf-page")
        : range.commonAncestorContainer.parentElement && range.commonAncestorContainer.parentElement.closest(".pdf-page");
      const startPage = range.startContainer.parentElement && range.startContainer.parentElement.closest(".pdf-page");
      const pageBox = box || startPage;
      if (!pageBox || !this.scroller.contains(pageBox)) return;
      const text = selection.toString().replace(/\s+/g, " ").trim();
      if (!text) return;
      const frame = pageBox.getBoundingClientRect();
      const rects = [];
      for (const r of range.getClientRects()) {
        if (r.width < 1 || r.height < 1) continue;
        const left = Math.max(r.left, frame.left);
        const right = Math.min(r.right, frame.right);
        const top = Math.max(r.top, frame.top);
        const bottom = Math.min(r.bottom, frame.bottom);
        if (right <= left || bottom <= top) continue;
        rects.push([
          (left - frame.left) / frame.width, (top - frame.top) / frame.height,
          (right - left) / frame.width, (bottom - top) / frame.height,
        ].map((v) => Math.round(v * 10000) / 10000));
      }
      if (!rects.length) return;
      this.selection = { page: Number(pageBox.dataset.page), quote: text.slice(0, 2000), rects: rects.slice(0, 200) };
      quote.textContent = "p. " + this.selection.page + ": “" + (text.length > 160 ? text.slice(0, 158) + "…" : text) + "”";
      form.hidden = false;
      this.root.classList.add("pdf-annotating");
      this.say("");
    };
    this.scroller.addEventListener("mouseup", () => setTimeout(capture, 0));
    this.scroller.addEventListener("keyup", () => setTimeout(capture, 0));
    this.scroller.addEventListener("touchend", () => setTimeout(capture, 0));
    form.querySelector("[data-annotate-cancel]").addEventListener("click", () => this.closeForm());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const action = event.submitter ? event.submitter.value : "comment";
      this.create(form, action);
    });
  }

  closeForm() {
    const form = this.root.querySelector(".pdf-annotate");
    form.hidden = true;
    form.reset();
    this.selection = null;
    this.root.classList.remove("pdf-annotating");
  }

  csrf() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async create(form, action) {
    if (!this.selection) { this.say("Select a passage in the PDF first.", true); return; }
    const body = new FormData();
    body.append("page", String(this.selection.page));
    body.append("quote", this.selection.quote);
    body.append("rects", JSON.stringify(this.selection.rects));
    body.append("comment", form.querySelector("[name=comment]").value);
    if (action === "source") {
      const field = form.querySelector("[name=field_key]");
      body.append("field_key", field ? field.value : "");
      body.append("form", this.root.dataset.form || "");
    }
    const error = form.querySelector(".pdf-annotate-error");
    error.textContent = "";
    try {
      const response = await fetch(this.root.dataset.annotationsUrl, {
        method: "POST", body, credentials: "same-origin",
        headers: { "X-CSRFToken": this.csrf(), Accept: "application/json" },
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        error.textContent = answer.error || "The annotation was not saved (the server answered " + response.status + ").";
        return;
      }
      this.annotations.push(answer.annotation);
      this.closeForm();
      window.getSelection().removeAllRanges();
      this.renderList();
      this.drawAnnotations(answer.annotation.page);
      this.say(answer.annotation.field_label ? "Saved as the source of " + answer.annotation.field_label + "." : "Comment saved.");
    } catch (failure) {
      error.textContent = "The annotation was not saved: the server could not be reached. Try again.";
    }
  }

  async remove(note) {
    try {
      const response = await fetch(note.delete_url, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRFToken": this.csrf(), Accept: "application/json" },
      });
      if (!response.ok) {
        const answer = await response.json().catch(() => ({}));
        this.say(answer.error || "The annotation was not deleted (the server answered " + response.status + ").", true);
        return;
      }
    } catch (failure) {
      this.say("The annotation was not deleted: the server could not be reached.", true);
      return;
    }
    this.annotations = this.annotations.filter((a) => a.id !== note.id);
    this.renderList();
    this.drawAnnotations(note.page);
    this.say("Annotation deleted.");
  }
}

const NARROW = "(max-width: 40rem)";

function openAll(scope) {
  scope.querySelectorAll("[data-pdf-viewer]").forEach((root) => {
    if (root.pdfViewer) return;
    // On a phone the viewer is folded under its summary until asked for, and loads only then.
    const fold = root.closest("[data-pdf-fold]");
    if (fold && !fold.dataset.foldChecked) {
      fold.dataset.foldChecked = "true";
      // ... unless the page was opened to show one of its passages (a value's source link).
      if (window.matchMedia(NARROW).matches && !/^#annotation-\d+$/.test(window.location.hash)) {
        fold.open = false;
      }
    }
    if (fold && !fold.open) {
      fold.addEventListener("toggle", () => { if (fold.open) openAll(fold); });
      return;
    }
    root.pdfViewer = new Viewer(root);
    root.pdfViewer.open();
  });
}

openAll(document);
// A value's source link (the comparison page) jumps within the viewer when it shows that PDF.
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-annotation]");
  if (!link) return;
  const id = Number(link.dataset.annotation);
  for (const root of document.querySelectorAll("[data-pdf-viewer]")) {
    const viewer = root.pdfViewer;
    if (viewer && viewer.annotations.some((a) => a.id === id)) {
      event.preventDefault();
      history.replaceState(null, "", "#annotation-" + id);
      root.scrollIntoView({ block: "start" });
      viewer.jumpTo(id);
      return;
    }
  }
});
new MutationObserver((changes) => {
  for (const change of changes) {
    for (const node of change.addedNodes) {
      if (node.nodeType === 1) openAll(node.matches("[data-pdf-viewer]") ? node.parentElement : node);
    }
  }
}).observe(document.body, { childList: true, subtree: true });
