/* Support-mask editor: paint a support image's foreground with a brush, remove it with an eraser, undo, reset,
   and save the mask as a PNG (0 background, 255 foreground, the image's natural size) to the page's form URL,
   which stores it as a new support-set version. The mask is one byte per image pixel; the canvas shows it in red.
   Keys: b brush, e eraser, [ ] brush size, ctrl+z undo, s / ctrl+s save; on the focused canvas the arrow keys move
   a cursor and space paints there. Plain JavaScript, no library. */
(function () {
  "use strict";
  var root = document.querySelector("[data-mask-editor]");
  if (!root) return;
  var W = parseInt(root.getAttribute("data-width"), 10), H = parseInt(root.getAttribute("data-height"), 10);
  var canvas = root.querySelector("[data-mask-canvas]"), ctx = canvas.getContext("2d");
  var form = root.querySelector("[data-mask-form]"), sizeInput = root.querySelector("[data-brush-size]");
  var status = root.querySelector("[data-mask-status]"), toolStatus = root.querySelector("[data-mask-tool-status]");
  var undoButton = root.querySelector("[data-undo]"), saveButton = root.querySelector("[data-save]");
  var cursorEl = root.querySelector("[data-mask-cursor]");
  var mask = new Uint8Array(W * H), saved = new Uint8Array(W * H), undo = [], UNDO_MAX = 50;
  var view = ctx.createImageData(W, H), tool = "brush", ready = false, saving = false;
  var keyPainting = false;  // space held on the canvas: moving the cursor paints a line (one undo step per press)
  var cursor = { x: Math.floor(W / 2), y: Math.floor(H / 2) }, stroke = null;

  function say(text) { status.textContent = text; }
  function sayTool() {
    toolStatus.textContent = (tool === "brush" ? "Brush" : "Eraser") + ", size " + size() + " px";
  }
  function size() {
    var n = parseInt(sizeInput.value, 10);
    return isNaN(n) ? 1 : Math.max(1, Math.min(256, n));
  }
  function setSize(n) { sizeInput.value = String(Math.max(1, Math.min(256, n))); sayTool(); showCursor(); }
  function setTool(name) {
    tool = name;
    root.querySelector("[data-tool='" + name + "']").checked = true;
    if (cursorEl) cursorEl.classList.toggle("eraser", name === "eraser");
    sayTool();
  }

  // ---- drawing the mask on the canvas (only the changed rectangle) ----------------------------------------
  function render(x0, y0, x1, y1) {
    x0 = Math.max(0, x0); y0 = Math.max(0, y0); x1 = Math.min(W - 1, x1); y1 = Math.min(H - 1, y1);
    if (x1 < x0 || y1 < y0) return;
    var d = view.data;
    for (var y = y0; y <= y1; y++) {
      for (var x = x0, i = y * W + x0; x <= x1; x++, i++) {
        var o = i * 4;
        d[o] = 255; d[o + 1] = 32; d[o + 2] = 32; d[o + 3] = mask[i] ? 150 : 0;
      }
    }
    ctx.putImageData(view, 0, 0, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
  }
  function renderAll() { render(0, 0, W - 1, H - 1); }

  function changed() {
    undoButton.disabled = undo.length === 0;
    saveButton.disabled = !ready || saving;
  }
  function remember() {
    undo.push(mask.slice());
    if (undo.length > UNDO_MAX) undo.shift();
    undoButton.disabled = false;
  }

  // one disc of the brush / eraser at image pixel (cx, cy)
  function dab(cx, cy) {
    var r = size() / 2, r2 = r * r, reach = Math.ceil(r), value = tool === "brush" ? 1 : 0;
    for (var y = Math.max(0, cy - reach); y <= Math.min(H - 1, cy + reach); y++) {
      for (var x = Math.max(0, cx - reach); x <= Math.min(W - 1, cx + reach); x++) {
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < r2) mask[y * W + x] = value;
      }
    }
    render(cx - reach, cy - reach, cx + reach, cy + reach);
  }
  function line(ax, ay, bx, by) {
    var steps = Math.max(1, Math.ceil(Math.max(Math.abs(bx - ax), Math.abs(by - ay))));
    for (var s = 1; s <= steps; s++) {
      dab(Math.round(ax + (bx - ax) * s / steps), Math.round(ay + (by - ay) * s / steps));
    }
  }

  // ---- pointer ----------------------------------------------------------------------------------------------
  function pixel(ev) {
    var rect = canvas.getBoundingClientRect();
    return { x: Math.min(W - 1, Math.max(0, Math.floor((ev.clientX - rect.left) * W / rect.width))),
             y: Math.min(H - 1, Math.max(0, Math.floor((ev.clientY - rect.top) * H / rect.height))) };
  }
  function showCursor() {
    if (!cursorEl) return;
    var scale = canvas.getBoundingClientRect().width / W || 1, d = Math.max(4, size() * scale);
    cursorEl.style.width = d + "px"; cursorEl.style.height = d + "px";
    cursorEl.style.left = ((cursor.x + 0.5) * scale) + "px"; cursorEl.style.top = ((cursor.y + 0.5) * scale) + "px";
    cursorEl.hidden = !ready;
  }
  canvas.addEventListener("pointerdown", function (ev) {
    if (!ready || ev.button !== 0) return;
    ev.preventDefault();
    canvas.focus();
    canvas.setPointerCapture(ev.pointerId);
    remember();
    stroke = pixel(ev);
    cursor = stroke;
    dab(stroke.x, stroke.y);
    changed();
    showCursor();
  });
  canvas.addEventListener("pointermove", function (ev) {
    cursor = pixel(ev);
    showCursor();
    if (!stroke) return;
    line(stroke.x, stroke.y, cursor.x, cursor.y);
    stroke = cursor;
  });
  function endStroke() { stroke = null; }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);

  // ---- commands ---------------------------------------------------------------------------------------------
  function doUndo() {
    if (!undo.length) { say("Nothing to undo."); return; }
    mask.set(undo.pop());
    renderAll();
    changed();
    say("Undone.");
  }
  function fill(value) {
    remember();
    mask.fill(value);
    renderAll();
    changed();
    say(value ? "The whole image is foreground." : "The mask is cleared.");
  }
  function reset() {
    remember();
    mask.set(saved);
    renderAll();
    changed();
    say("Back to the saved mask.");
  }

  function pngBlob() {
    var out = document.createElement("canvas");
    out.width = W; out.height = H;
    var octx = out.getContext("2d"), img = octx.createImageData(W, H), d = img.data;
    for (var i = 0; i < mask.length; i++) {
      var v = mask[i] ? 255 : 0, o = i * 4;
      d[o] = v; d[o + 1] = v; d[o + 2] = v; d[o + 3] = 255;
    }
    octx.putImageData(img, 0, 0);
    return new Promise(function (resolve) { out.toBlob(resolve, "image/png"); });
  }

  function save() {
    if (!ready || saving) return;
    saving = true;
    saveButton.disabled = true;
    say("Saving…");
    var snapshot = mask.slice();
    pngBlob().then(function (blob) {
      var body = new FormData(form);
      body.delete("tool");
      body.append("mask", blob, "mask.png");
      return fetch(form.action, { method: "POST", body: body, credentials: "same-origin",
        headers: { "Accept": "application/json" } });
    }).then(function (r) {
      return r.json().then(function (data) {
        say(data.message);
        if (r.ok && data.ok) {
          form.querySelector("[data-mask-version]").value = data.version;
          saved = snapshot;
          root.setAttribute("data-saved-version", String(data.support_version));
        }
      });
    }).catch(function () {
      say("The mask could not be sent; nothing was saved. Check the connection and save again.");
    }).then(function () {
      saving = false;
      saveButton.disabled = !ready;
    });
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); save(); });
  undoButton.addEventListener("click", doUndo);
  root.querySelector("[data-reset]").addEventListener("click", reset);
  Array.prototype.forEach.call(root.querySelectorAll("[data-fill]"), function (button) {
    button.addEventListener("click", function () { fill(parseInt(button.getAttribute("data-fill"), 10)); });
  });
  Array.prototype.forEach.call(root.querySelectorAll("[data-tool]"), function (radio) {
    radio.addEventListener("change", function () { if (radio.checked) setTool(radio.value); });
  });
  sizeInput.addEventListener("input", function () { sayTool(); showCursor(); });

  // ---- keyboard -----------------------------------------------------------------------------------------------
  function step(n, up) {
    var by = n < 8 ? 1 : Math.max(1, Math.round(n / 5));
    return up ? n + by : n - by;
  }
  document.addEventListener("keydown", function (ev) {
    var t = ev.target, typing = t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" ||
      (t.tagName === "INPUT" && t.type !== "radio" && t.type !== "checkbox"));
    var key = ev.key, ctrl = ev.ctrlKey || ev.metaKey;
    if (ctrl && !ev.altKey && (key === "s" || key === "S")) { ev.preventDefault(); save(); return; }
    if (typing || ev.altKey) return;
    if (ctrl && (key === "z" || key === "Z") && !ev.shiftKey) { ev.preventDefault(); doUndo(); return; }
    if (ctrl) return;
    if (key === "b" || key === "B") setTool("brush");
    else if (key === "e" || key === "E") setTool("eraser");
    else if (key === "[") setSize(step(size(), false));
    else if (key === "]") setSize(step(size(), true));
    else if (key === "s" || key === "S") save();
    else if (t === canvas && ready && key.indexOf("Arrow") === 0) {
      var move = ev.shiftKey ? Math.max(8, size()) : Math.max(1, Math.round(size() / 4));
      var nx = cursor.x + (key === "ArrowRight" ? move : key === "ArrowLeft" ? -move : 0);
      var ny = cursor.y + (key === "ArrowDown" ? move : key === "ArrowUp" ? -move : 0);
      nx = Math.max(0, Math.min(W - 1, nx)); ny = Math.max(0, Math.min(H - 1, ny));
      if (keyPainting) line(cursor.x, cursor.y, nx, ny);
      cursor = { x: nx, y: ny };
      showCursor();
      toolStatus.textContent = (tool === "brush" ? "Brush" : "Eraser") + " at " + nx + ", " + ny;
    }
    else if (t === canvas && ready && (key === " " || key === "Enter")) {
      if (!keyPainting) { remember(); keyPainting = true; }
      dab(cursor.x, cursor.y);
      changed();
      showCursor();
    }
    else return;
    ev.preventDefault();
  });
  document.addEventListener("keyup", function (ev) { if (ev.key === " " || ev.key === "Enter") keyPainting = false; });
  canvas.addEventListener("focus", showCursor);
  window.addEventListener("resize", showCursor);

  // ---- the mask the version in use gives this image -------------------------------------------------------
  var start = new Image();
  start.onload = function () {
    var tmp = document.createElement("canvas");
    tmp.width = W; tmp.height = H;
    var tctx = tmp.getContext("2d");
    tctx.drawImage(start, 0, 0, W, H);
    var d = tctx.getImageData(0, 0, W, H).data;
    for (var i = 0; i < mask.length; i++) mask[i] = d[i * 4] > 127 ? 1 : 0;
    saved = mask.slice();
    renderAll();
    ready = true;
    saveButton.disabled = false;
    root.setAttribute("data-ready", "1");
    say("Ready: the mask in use is shown in red.");
    sayTool();
    showCursor();
  };
  start.onerror = function () { say("The current mask could not be loaded; reload the page."); };
  start.src = root.getAttribute("data-mask-url");
})();
