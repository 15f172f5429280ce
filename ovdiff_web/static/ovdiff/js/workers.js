/* Workers page: while the workers' answer is pending, reload once it has had time to arrive (at most 5 times). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    if (!document.querySelector("[data-answer-pending]")) return;
    var tries = parseInt(sessionStorage.getItem("ovdiff-workers-tries") || "0", 10);
    if (tries >= 5) { sessionStorage.removeItem("ovdiff-workers-tries"); return; }
    sessionStorage.setItem("ovdiff-workers-tries", String(tries + 1));
    window.setTimeout(function () { window.location.reload(); }, 1500);
  });
  window.addEventListener("pageshow", function () {
    if (!document.querySelector("[data-answer-pending]")) sessionStorage.removeItem("ovdiff-workers-tries");
  });
})();
