/* Run form: pick a known setting and append "name=paper default" to the overrides field, ready to edit. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var picker = document.querySelector("[data-settings-picker]");
    if (!picker) return;
    var input = picker.querySelector("input[list]");
    var field = document.getElementById("id_overrides");
    var add = picker.querySelector("[data-settings-add]");
    function append() {
      var option = document.querySelector('#known-settings option[value="' + CSS.escape(input.value.trim()) + '"]');
      if (!option || !field) { input.setCustomValidity("unknown setting: choose one from the list"); input.reportValidity(); return; }
      input.setCustomValidity("");
      var line = option.value + "=" + option.getAttribute("data-default");
      field.value = field.value.replace(/\s*$/, "") + (field.value.trim() ? "\n" : "") + line;
      input.value = "";
      field.focus();
    }
    add.addEventListener("click", append);
    input.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); append(); } });
  });
})();
