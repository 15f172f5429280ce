/* ovdiff dashboard: small progressive enhancement. Every page works without this file. */
(function () {
  "use strict";

  function fmtEta(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds <= 0) return "";
    var s = Math.round(seconds);
    if (s < 60) return "ETA " + s + "s";
    if (s < 3600) return "ETA " + Math.floor(s / 60) + "m " + (s % 60) + "s";
    return "ETA " + Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  }

  function fmtDuration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m " + (s % 60) + "s";
  }

  /* Live progress: poll while the tab is visible, pause when hidden, stop when the run is finished. */
  function Poller(el) {
    this.el = el;
    this.url = el.getAttribute("data-progress-url");
    this.interval = parseInt(el.getAttribute("data-interval") || "1500", 10);
    this.timer = null;
    this.stopped = false;
  }
  Poller.prototype.schedule = function () {
    var self = this;
    if (self.stopped || self.timer || document.visibilityState !== "visible") return;
    self.timer = window.setTimeout(function () { self.timer = null; self.tick(); }, self.interval);
  };
  Poller.prototype.pause = function () {
    if (this.timer) { window.clearTimeout(this.timer); this.timer = null; }
  };
  Poller.prototype.tick = function () {
    var self = this;
    fetch(self.url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) { self.render(data); if (data.finished) { self.finish(data); } else { self.schedule(); } })
      .catch(function () { self.interval = Math.min(self.interval * 2, 15000); self.schedule(); });
  };
  Poller.prototype.render = function (data) {
    var el = this.el;
    var status = el.querySelector("[data-run-status]");
    if (status) { status.textContent = data.status; status.className = "badge s-" + data.status; }
    document.querySelectorAll('[data-run-status-live="' + data.run + '"]').forEach(function (b) {
      b.textContent = data.status; b.className = "badge s-" + data.status;
    });
    if (data.elapsed_seconds !== null && data.elapsed_seconds !== undefined) {
      document.querySelectorAll('[data-run-elapsed="' + data.run + '"]').forEach(function (e) {
        e.textContent = (data.finished ? "took " : "elapsed ") + fmtDuration(data.elapsed_seconds);
      });
    }
    var miou = el.querySelector("[data-run-miou]");
    if (miou && data.miou !== null && data.miou !== undefined) miou.textContent = (data.miou * 100).toFixed(1);
    (data.stages || []).forEach(function (st) {
      var row = el.querySelector('[data-stage="' + st.name + '"]');
      if (!row) return;
      row.className = "stage s-" + st.status;
      var bar = row.querySelector(".bar > span");
      if (bar) bar.style.width = st.percent + "%";
      var barOuter = row.querySelector(".bar");
      if (barOuter) barOuter.setAttribute("aria-valuenow", String(st.percent));
      var txt = row.querySelector("[data-stage-text]");
      if (txt) txt.textContent = st.done + "/" + st.total + " " + (st.status === "done" ? "done" : fmtEta(st.eta));
    });
  };
  Poller.prototype.finish = function (data) {
    this.stopped = true;
    this.el.setAttribute("data-finished", "true");
    if (this.el.hasAttribute("data-reload-on-finish")) window.location.reload();
    var cancel = this.el.querySelector("[data-cancel-form]");
    if (cancel) cancel.hidden = true;
  };

  function initPolling() {
    var pollers = [];
    document.querySelectorAll("[data-progress-url]").forEach(function (el) {
      if (el.getAttribute("data-finished") === "true") return;
      var p = new Poller(el);
      pollers.push(p);
      p.schedule();
    });
    document.addEventListener("visibilitychange", function () {
      pollers.forEach(function (p) { if (document.visibilityState === "visible") p.schedule(); else p.pause(); });
    });
  }

  /* Gallery overlays: opacity slider, prediction / ground-truth toggles, per-class toggles; each
     [data-overlay-root] of the page (a class page has several) works on its own images. */
  function initOverlays() {
    document.querySelectorAll("[data-overlay-root]").forEach(initOverlayRoot);
  }

  function initOverlayRoot(root) {
    var slider = root.querySelector("[data-opacity]");
    if (slider) {
      var apply = function () { root.style.setProperty("--ovl-opacity", String(slider.value / 100)); };
      slider.addEventListener("input", apply);
      apply();
    }
    root.querySelectorAll("[data-ovl-toggle]").forEach(function (box) {
      var kind = box.getAttribute("data-ovl-toggle");
      var apply = function () {
        root.querySelectorAll("img.ovl-" + kind).forEach(function (img) { img.hidden = !box.checked; });
      };
      box.addEventListener("change", apply);
      apply();
    });
    var classBoxes = root.querySelectorAll("[data-class-toggle]");
    var applyClasses = function () {
      var hidden = [];
      classBoxes.forEach(function (b) { if (!b.checked) hidden.push(b.getAttribute("data-class-toggle")); });
      root.querySelectorAll("img.ovl[data-src-base]").forEach(function (img) {
        var base = img.getAttribute("data-src-base");
        var sep = base.indexOf("?") >= 0 ? "&" : "?";
        img.src = hidden.length ? base + sep + "hide=" + hidden.join(",") : base;
      });
    };
    classBoxes.forEach(function (b) { b.addEventListener("change", applyClasses); });
    var all = root.querySelector("[data-classes-all]");
    if (all) all.addEventListener("click", function () { classBoxes.forEach(function (b) { b.checked = true; }); applyClasses(); });
    var none = root.querySelector("[data-classes-none]");
    if (none) none.addEventListener("click", function () { classBoxes.forEach(function (b) { b.checked = false; }); applyClasses(); });
  }

  /* Segment page: click a pixel, or move a marker with the arrow keys (Shift: 10x) and press Enter, to ask the
     server which prototype decided it. The marker shows the pixel asked about. */
  function initExplain() {
    var view = document.querySelector("[data-explain-url]");
    if (!view) return;
    var out = document.querySelector("[data-explain-out]");
    var img = view.querySelector("img.base");
    var marker = document.createElement("div");
    marker.className = "pixel-marker";
    marker.hidden = true;
    marker.setAttribute("data-pixel-marker", "");
    view.appendChild(marker);
    var cur = null;
    function place(x, y) {
      var w = img.naturalWidth || 1, h = img.naturalHeight || 1;
      cur = [Math.max(0, Math.min(w - 1, x)), Math.max(0, Math.min(h - 1, y))];
      marker.style.left = ((cur[0] + 0.5) / w * 100) + "%";
      marker.style.top = ((cur[1] + 0.5) / h * 100) + "%";
      marker.hidden = false;
      view.setAttribute("data-pixel", cur[0] + "," + cur[1]);
      view.setAttribute("aria-label", "segmented image, pixel (" + cur[0] + ", " + cur[1] + ") selected: arrow keys move, Enter explains");
    }
    function ask() {
      var x = cur[0], y = cur[1];
      out.textContent = "Looking up pixel (" + x + ", " + y + ")…";
      var url = view.getAttribute("data-explain-url");
      fetch(url + (url.indexOf("?") >= 0 ? "&" : "?") + "x=" + x + "&y=" + y, { credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, d: d }; }); })
        .then(function (res) { renderExplain(out, res.ok, res.d); })
        .catch(function (e) { out.textContent = "Could not explain this pixel: " + e; });
    }
    view.addEventListener("click", function (ev) {
      var rect = img.getBoundingClientRect();
      place(Math.floor((ev.clientX - rect.left) / rect.width * img.naturalWidth),
            Math.floor((ev.clientY - rect.top) / rect.height * img.naturalHeight));
      ask();
    });
    view.addEventListener("focus", function () {
      if (!cur) place(Math.floor(img.naturalWidth / 2), Math.floor(img.naturalHeight / 2));
    });
    view.addEventListener("keydown", function (ev) {
      var moves = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
      if (!cur) place(Math.floor(img.naturalWidth / 2), Math.floor(img.naturalHeight / 2));
      if (moves[ev.key]) {
        ev.preventDefault();
        var step = ev.shiftKey ? 10 : 1;
        place(cur[0] + moves[ev.key][0] * step, cur[1] + moves[ev.key][1] * step);
      } else if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        ask();
      }
    });
  }

  function renderExplain(out, ok, d) {
    out.innerHTML = "";
    if (!ok) { out.textContent = d.error || "No explanation for this pixel."; return; }
    var p = document.createElement("p");
    p.textContent = "Pixel (" + d.x + ", " + d.y + ") is \u201c" + d.class_name + "\u201d.";
    out.appendChild(p);
    (d.explanations || []).forEach(function (e) {
      var div = document.createElement("div");
      div.className = "card";
      var t = document.createElement("p");
      t.textContent = e.extractor + ": prototype #" + e.prototype_index + " of \u201c" + e.prototype_class + "\u201d (" +
        e.kind + ", " + e.mask + " mask), cosine " + Number(e.score).toFixed(3) +
        (e.image_index !== null && e.image_index !== undefined ? ", support image " + e.image_index : "");
      div.appendChild(t);
      if (e.support_image_url) {
        var wrap = document.createElement("div");
        wrap.style.position = "relative"; wrap.style.display = "inline-block"; wrap.style.lineHeight = "0";
        var im = document.createElement("img");
        im.src = e.support_image_url; im.alt = "support image " + e.image_index; im.style.maxWidth = "256px";
        wrap.appendChild(im);
        if (e.box) {
          var b = document.createElement("div");
          b.style.position = "absolute"; b.style.border = "2px solid #f0a500";
          b.style.left = (e.box[0] * 100) + "%"; b.style.top = (e.box[1] * 100) + "%";
          b.style.width = ((e.box[2] - e.box[0]) * 100) + "%"; b.style.height = ((e.box[3] - e.box[1]) * 100) + "%";
          wrap.appendChild(b);
        }
        div.appendChild(wrap);
      }
      out.appendChild(div);
    });
  }

  /* Confirmation for destructive buttons (cancel a run). */
  function initConfirm() {
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (ev) { if (!window.confirm(f.getAttribute("data-confirm"))) ev.preventDefault(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initPolling(); initOverlays(); initExplain(); initConfirm();
  });
})();
