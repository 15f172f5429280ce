/* Keyboard review of support images: j/k move between cards, x exclude, i include, 1-9 a proposed mask,
   a the attribution threshold, 0 the proposer's rule. Each key posts the card's form (JSON answer) and updates
   the card in place; a 409 (someone else edited the class) reloads the page with the current state. */
(function () {
  "use strict";
  var cards = Array.prototype.slice.call(document.querySelectorAll("[data-review-card]"));
  var status = document.querySelector("[data-review-status]");
  if (!cards.length) return;

  function say(text) { if (status) status.textContent = text; }
  function csrf(card) { var el = card.querySelector("input[name=csrfmiddlewaretoken]"); return el ? el.value : ""; }

  function send(card, fields) {
    var body = new URLSearchParams(fields);
    body.set("image", card.getAttribute("data-image"));
    body.set("version", card.getAttribute("data-version"));
    body.set("csrfmiddlewaretoken", csrf(card));
    return fetch(card.getAttribute("data-curate-url"), { method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json" } }).then(function (r) {
      return r.json().then(function (data) {
        if (r.status === 409) { say(data.message + " Reloading…"); window.location.reload(); return; }
        say(data.message);
        if (!data.ok) return;
        var cls = card.getAttribute("data-class");  // every card of the class now carries the new version
        cards.forEach(function (c) { if (c.getAttribute("data-class") === cls) c.setAttribute("data-version", data.version); });
        var decision = card.querySelector("[data-decision]");
        if (fields.action === "exclude") { card.classList.add("excluded"); decision.textContent = "excluded: " + fields.reason + " · rebuild pending"; }
        else if (fields.action === "include") { card.classList.remove("excluded"); decision.textContent = "kept · rebuild pending"; }
        else { decision.textContent = "fg: " + (fields.choice || "proposer's rule") + " · rebuild pending"; }
      });
    }).catch(function () { say("The request failed; nothing changed."); });
  }

  function move(card, step) {
    var i = cards.indexOf(card) + step;
    if (i >= 0 && i < cards.length) cards[i].focus();
  }

  cards.forEach(function (card) {
    card.addEventListener("keydown", function (ev) {
      if (ev.target !== card || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var k = ev.key, n = parseInt(card.getAttribute("data-instances"), 10) || 0;
      if (k === "j" || k === "ArrowDown") { move(card, 1); }
      else if (k === "k" || k === "ArrowUp") { move(card, -1); }
      else if (k === "x") {
        var reason = card.querySelector("[data-reason]");
        send(card, { action: "exclude", reason: reason ? reason.value : "does not show the class" });
        move(card, 1);
      }
      else if (k === "i") { send(card, { action: "include" }); }
      else if (k === "a") { send(card, { action: "mask", choice: "attribution" }); }
      else if (k === "0") { send(card, { action: "mask", choice: "" }); }
      else if (/^[1-9]$/.test(k) && parseInt(k, 10) <= n) { send(card, { action: "mask", choice: "instance:" + (parseInt(k, 10) - 1) }); }
      else { return; }
      ev.preventDefault();
    });
  });
  cards[0].focus();
})();
