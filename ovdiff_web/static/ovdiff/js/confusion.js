/* Confusion matrix: value readout on hover/focus, row/column highlight, and for large vocabularies a canvas drawn
   from the matrix JSON with keyboard navigation (arrows move, Enter opens the cell's images). */
(function () {
  "use strict";

  function share(row, j) {
    var total = row.reduce(function (a, b) { return a + b; }, 0) || 1;
    return row[j] / total;
  }

  function colour(s, diagonal, extra) {
    s = Math.max(0, Math.min(1, s));
    var shade = Math.round(255 - 215 * s);
    if (diagonal) return "rgb(" + shade + ",255," + shade + ")";
    if (extra) return "rgb(255," + Math.round(255 - 120 * s) + "," + shade + ")";
    return "rgb(" + shade + "," + shade + ",255)";
  }

  function cellUrl(root, gt, pred) {
    return root.getAttribute("data-cell-url")
      .replace(root.getAttribute("data-url-gt"), String(gt))
      .replace(root.getAttribute("data-url-pred"), String(pred));
  }

  function describe(names, extra, matrix, gt, pred) {
    var row = matrix[gt];
    var predName = pred < names.length ? names[pred] : extra;
    return "ground truth \u201c" + names[gt] + "\u201d \u2192 predicted \u201c" + predName + "\u201d: " +
      row[pred] + " px (" + (share(row, pred) * 100).toFixed(1) + "% of row)";
  }

  function initSvg(root, svg, readout) {
    var ns = "http://www.w3.org/2000/svg";
    var bands = ["row", "col"].map(function () {
      var r = document.createElementNS(ns, "rect");
      r.setAttribute("class", "cm-band"); r.setAttribute("pointer-events", "none"); r.style.display = "none";
      svg.appendChild(r);
      return r;
    });
    function show(rect) {
      var x = +rect.getAttribute("x"), y = +rect.getAttribute("y"), w = +rect.getAttribute("width");
      var box = svg.viewBox.baseVal;
      bands[0].setAttribute("x", 0); bands[0].setAttribute("y", y); bands[0].setAttribute("width", box.width); bands[0].setAttribute("height", w);
      bands[1].setAttribute("x", x); bands[1].setAttribute("y", 0); bands[1].setAttribute("width", w); bands[1].setAttribute("height", box.height);
      bands.forEach(function (b) { b.style.display = ""; });
      svg.querySelectorAll(".cm-row.hl, .cm-col.hl").forEach(function (t) { t.classList.remove("hl"); });
      var rowLabel = svg.querySelector('.cm-row[data-row="' + rect.getAttribute("data-gt") + '"]');
      var colLabel = svg.querySelector('.cm-col[data-col="' + rect.getAttribute("data-pred") + '"]');
      if (rowLabel) rowLabel.classList.add("hl");
      if (colLabel) colLabel.classList.add("hl");
      var title = rect.querySelector("title");
      readout.textContent = title ? title.textContent : "";
    }
    function pick(ev) {
      var t = ev.target;
      var rect = t.tagName === "rect" && t.hasAttribute("data-gt") ? t : t.querySelector && t.querySelector("rect[data-gt]");
      if (rect) show(rect);
    }
    svg.addEventListener("mouseover", pick);
    svg.addEventListener("focusin", pick);
  }

  function initCanvas(root, canvas, readout) {
    var data = JSON.parse(document.getElementById(canvas.getAttribute("data-cm-canvas")).textContent);
    var names = data.names, matrix = data.matrix, n = names.length;
    var cols = matrix.reduce(function (a, r) { return Math.max(a, r.length); }, 0);
    var cell = Math.max(4, Math.min(28, Math.floor(900 / cols)));
    var pad = 4;
    canvas.width = cols * cell + 2 * pad;
    canvas.height = n * cell + 2 * pad;
    var base = document.createElement("canvas");
    base.width = canvas.width; base.height = canvas.height;
    var bctx = base.getContext("2d");
    bctx.fillStyle = "#fff"; bctx.fillRect(0, 0, base.width, base.height);
    matrix.forEach(function (row, gt) {
      row.forEach(function (v, pred) {
        bctx.fillStyle = colour(share(row, pred), gt === pred, pred >= n);
        bctx.fillRect(pad + pred * cell, pad + gt * cell, Math.max(1, cell - 1), Math.max(1, cell - 1));
      });
    });
    bctx.strokeStyle = "#c77"; bctx.setLineDash([3, 2]);
    bctx.strokeRect(pad + n * cell - 0.5, pad - 0.5, (cols - n) * cell, n * cell);  // the "no dataset label" column
    var ctx = canvas.getContext("2d");
    var cur = null;
    function draw() {
      ctx.drawImage(base, 0, 0);
      if (!cur) return;
      ctx.fillStyle = "rgba(240,165,0,0.18)";
      ctx.fillRect(0, pad + cur[0] * cell, canvas.width, cell);
      ctx.fillRect(pad + cur[1] * cell, 0, cell, canvas.height);
      ctx.strokeStyle = "#000"; ctx.setLineDash([]); ctx.lineWidth = 2;
      ctx.strokeRect(pad + cur[1] * cell - 1, pad + cur[0] * cell - 1, cell + 1, cell + 1);
    }
    function select(gt, pred) {
      cur = [Math.max(0, Math.min(n - 1, gt)), Math.max(0, Math.min(cols - 1, pred))];
      readout.textContent = describe(names, data.extra, matrix, cur[0], cur[1]);
      draw();
    }
    function at(ev) {
      var r = canvas.getBoundingClientRect();
      var x = (ev.clientX - r.left) * canvas.width / r.width - pad, y = (ev.clientY - r.top) * canvas.height / r.height - pad;
      if (x < 0 || y < 0 || x >= cols * cell || y >= n * cell) return null;
      return [Math.floor(y / cell), Math.floor(x / cell)];
    }
    canvas.addEventListener("mousemove", function (ev) { var c = at(ev); if (c) select(c[0], c[1]); });
    canvas.addEventListener("click", function (ev) {
      var c = at(ev);
      if (c && matrix[c[0]][c[1]] > 0) window.location.href = cellUrl(root, c[0], c[1]);
    });
    canvas.addEventListener("focus", function () { if (!cur) select(0, 0); });
    canvas.addEventListener("keydown", function (ev) {
      var moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      if (moves[ev.key]) {
        ev.preventDefault();
        var c = cur || [0, 0];
        select(c[0] + moves[ev.key][0], c[1] + moves[ev.key][1]);
      } else if (ev.key === "Enter" && cur) {
        if (matrix[cur[0]][cur[1]] > 0) window.location.href = cellUrl(root, cur[0], cur[1]);
        else readout.textContent = describe(names, data.extra, matrix, cur[0], cur[1]) + " \u2014 no images to open";
      }
    });
    draw();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-cm]").forEach(function (root) {
      var readout = root.querySelector("[data-cm-readout]");
      var svg = root.querySelector("[data-cm-svg]");
      var canvas = root.querySelector("[data-cm-canvas]");
      if (svg) initSvg(root, svg, readout);
      if (canvas) initCanvas(root, canvas, readout);
    });
  });
})();
