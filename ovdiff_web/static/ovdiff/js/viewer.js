/* Image viewer: every gallery image opens in a dialog where it can be zoomed (wheel, +/-, buttons) and panned
   (drag, arrow keys), with toggles for its layers (prediction, ground truth, errors, confused pixels).
   It opens fitted to the viewport ("fit", key 0); the zoom shown is relative to the image's natural size, so
   100 % (button, key 1) is one image pixel per CSS pixel. */
(function () {
  "use strict";
  var NAMES = { "ovl-pred": "prediction", "ovl-gt": "ground truth", "ovl-cell": "confused pixels",
    "ovl-attribution": "attribution", "ovl-fg_mask": "foreground mask", "ovl-bg_mask": "background mask" };

  function layerName(img) {
    if (img.getAttribute("data-layer")) return img.getAttribute("data-layer");
    for (var cls in NAMES) { if (img.classList.contains(cls)) return NAMES[cls]; }
    return "overlay";
  }

  function build() {
    var dlg = document.createElement("dialog");
    dlg.className = "viewer";
    dlg.setAttribute("aria-labelledby", "viewer-title");
    dlg.innerHTML = '<div class="viewer-bar"><strong id="viewer-title"></strong><span data-viewer-layers></span>' +
      '<button type="button" class="secondary small" data-zoom="-1" aria-label="zoom out">\u2212</button>' +
      '<span data-viewer-zoom aria-live="polite">100 %</span>' +
      '<button type="button" class="secondary small" data-zoom="1" aria-label="zoom in">+</button>' +
      '<button type="button" class="secondary small" data-zoom="0">fit</button>' +
      '<button type="button" class="secondary small" data-zoom="actual" title="actual size (key 1)">100 %</button>' +
      '<button type="button" class="small" data-viewer-close>Close</button></div>' +
      '<div class="viewer-port" tabindex="0" aria-label="image: + and - zoom, arrow keys pan"><div class="viewer-stage"></div></div>';
    document.body.appendChild(dlg);
    return dlg;
  }

  function Viewer() {
    this.dlg = build();
    this.port = this.dlg.querySelector(".viewer-port");
    this.stage = this.dlg.querySelector(".viewer-stage");
    this.scale = 1; this.x = 0; this.y = 0;
    var self = this;
    this.dlg.querySelector("[data-viewer-close]").addEventListener("click", function () { self.dlg.close(); });
    this.dlg.querySelectorAll("[data-zoom]").forEach(function (b) {
      b.addEventListener("click", function () {
        if (b.getAttribute("data-zoom") === "actual") { self.actual(); return; }
        var d = parseInt(b.getAttribute("data-zoom"), 10);
        if (d === 0) self.reset(); else self.zoom(d > 0 ? 1.5 : 1 / 1.5);
      });
    });
    this.port.addEventListener("wheel", function (ev) { ev.preventDefault(); self.zoom(ev.deltaY < 0 ? 1.25 : 0.8); });
    var drag = null;
    this.port.addEventListener("pointerdown", function (ev) { drag = [ev.clientX - self.x, ev.clientY - self.y]; self.port.setPointerCapture(ev.pointerId); });
    this.port.addEventListener("pointermove", function (ev) { if (drag) { self.x = ev.clientX - drag[0]; self.y = ev.clientY - drag[1]; self.apply(); } });
    this.port.addEventListener("pointerup", function () { drag = null; });
    this.port.addEventListener("keydown", function (ev) {
      var pan = { ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40] };
      if (ev.key === "+" || ev.key === "=") { self.zoom(1.5); ev.preventDefault(); }
      else if (ev.key === "-") { self.zoom(1 / 1.5); ev.preventDefault(); }
      else if (ev.key === "0") { self.reset(); ev.preventDefault(); }
      else if (ev.key === "1") { self.actual(); ev.preventDefault(); }
      else if (pan[ev.key]) { self.x += pan[ev.key][0]; self.y += pan[ev.key][1]; self.apply(); ev.preventDefault(); }
    });
  }
  Viewer.prototype.apply = function () {
    this.stage.style.transform = "translate(" + this.x + "px," + this.y + "px) scale(" + this.scale + ")";
    this.dlg.querySelector("[data-viewer-zoom]").textContent = Math.round(this.scale * 100) + " %";
  };
  Viewer.prototype.zoom = function (f) {
    var fit = this.fitScale();
    this.scale = Math.max(Math.min(0.25, fit), Math.min(Math.max(32, fit), this.scale * f));
    this.apply();
  };
  /* The scale at which the whole image fits the viewport (small images are enlarged to it). */
  Viewer.prototype.fitScale = function () {
    var w = this.width, h = this.height, pw = this.port.clientWidth, ph = this.port.clientHeight;
    if (!w || !h || !pw || !ph) return 1;
    return Math.min(pw / w, ph / h);
  };
  /* Lay every image of the stage out at the base image's natural size, centred; the transform scales it. */
  Viewer.prototype.size = function (base) {
    this.width = base.naturalWidth; this.height = base.naturalHeight;
    var w = this.width, h = this.height;
    this.stage.querySelectorAll("img").forEach(function (im) {
      im.style.width = w + "px"; im.style.height = h + "px";
      im.style.marginLeft = (-w / 2) + "px"; im.style.marginTop = (-h / 2) + "px";
    });
  };
  Viewer.prototype.reset = function () { this.scale = this.fitScale(); this.x = 0; this.y = 0; this.apply(); };
  Viewer.prototype.actual = function () { this.scale = 1; this.x = 0; this.y = 0; this.apply(); };
  Viewer.prototype.open = function (stack) {
    var self = this;
    this.stage.innerHTML = "";
    var layers = this.dlg.querySelector("[data-viewer-layers]");
    layers.innerHTML = "";
    var imgs = Array.prototype.slice.call(stack.querySelectorAll("img"));
    var base = imgs.shift();
    var add = function (src, name, shown, alt) {
      var im = document.createElement("img");
      im.src = src; im.alt = alt || ""; im.className = alt ? "base" : "layer"; im.hidden = !shown;
      self.stage.appendChild(im);
      if (!alt) {
        var label = document.createElement("label");
        var box = document.createElement("input");
        box.type = "checkbox"; box.checked = shown; box.setAttribute("data-viewer-layer", name);
        box.addEventListener("change", function () { im.hidden = !box.checked; });
        label.appendChild(box); label.appendChild(document.createTextNode(" " + name));
        layers.appendChild(label);
      }
    };
    add(base.currentSrc || base.src, "image", true, base.alt);
    imgs.forEach(function (im) { add(im.src, layerName(im), !im.hidden); });
    if (stack.getAttribute("data-error-src")) add(stack.getAttribute("data-error-src"), "errors", false);
    this.dlg.querySelector("#viewer-title").textContent = stack.getAttribute("data-viewer-title") || base.alt;
    this.width = 0; this.height = 0;
    this.dlg.showModal();  // before fitting: the viewport has its size only once shown
    var shown = this.stage.querySelector("img");  // the base image, first
    var fit = function () { self.size(shown); self.reset(); };
    if (shown.complete && shown.naturalWidth) fit(); else { this.reset(); shown.addEventListener("load", fit, { once: true }); }
    this.port.focus();
  };

  document.addEventListener("DOMContentLoaded", function () {
    var stacks = document.querySelectorAll("[data-gallery] .stack, .gallery .stack");
    if (!stacks.length || typeof HTMLDialogElement === "undefined") return;
    var viewer = null;
    stacks.forEach(function (stack) {
      stack.setAttribute("tabindex", "0");
      stack.setAttribute("role", "button");
      stack.setAttribute("aria-label", "open " + (stack.getAttribute("data-viewer-title") || "image") + " in the zoomable viewer");
      var open = function () { viewer = viewer || new Viewer(); viewer.open(stack); };
      stack.addEventListener("click", open);
      stack.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); open(); } });
    });
  });
})();
