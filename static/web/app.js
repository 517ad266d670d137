// Plain JavaScript, no library: small conveniences only; every page works without it.
(function () {
  "use strict";
  // Selects and checkboxes marked data-autosubmit submit their form when changed.
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  // Forms marked data-confirm ask once before writing something that cannot be undone.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  // Receipt form: the new-lot fields only matter when no existing lot is chosen.
  var lot = document.getElementById("id_lot");
  var newLot = document.querySelector("[data-new-lot]");
  if (lot && newLot) {
    var sync = function () { newLot.classList.toggle("hidden", lot.value !== ""); };
    lot.addEventListener("change", sync);
    sync();
  }
})();
