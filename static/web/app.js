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
  // Secure prescription form: add or remove a line, show the fields of the line's kind, and check
  // as one types what the server checks again on submit (duration, declared number of lines).
  var rx = document.querySelector("form[data-rx-form]");
  if (rx) {
    var box = rx.querySelector("[data-lines]");
    var template = rx.querySelector("template[data-line-template]");
    var total = rx.querySelector("input[name='lines-TOTAL_FORMS']");
    var duration = rx.querySelector("[data-max-days]");
    var declared = rx.querySelector("[data-declared-lines]");
    var durationLive = document.getElementById("duration-live");
    var linesLive = document.getElementById("lines-live");
    var lineCount = function () { return box.querySelectorAll("[data-rx-line]").length; };
    var showKind = function (line) {
      var kind = line.querySelector("[data-line-kind]").value;
      line.querySelectorAll("[data-kind-fields]").forEach(function (group) {
        group.classList.toggle("hidden", group.getAttribute("data-kind-fields") !== kind);
      });
    };
    var renumber = function () {
      box.querySelectorAll("[data-rx-line]").forEach(function (line, index) {
        line.querySelector("[data-line-number]").textContent = String(index + 1);
        line.querySelectorAll("[name],[id],[for],[aria-describedby]").forEach(function (el) {
          ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
            var value = el.getAttribute(attr);
            if (value) { el.setAttribute(attr, value.replace(/lines-(\d+|__prefix__)-/g, "lines-" + index + "-")); }
          });
        });
        line.querySelector("[data-remove-line]").classList.toggle("hidden", lineCount() < 2);
      });
      total.value = String(lineCount());
    };
    var check = function () {
      var ok = true;
      var max = parseInt(duration.getAttribute("data-max-days"), 10);
      var days = parseInt(duration.value, 10);
      var tooLong = !isNaN(days) && days > max;
      durationLive.textContent = durationLive.getAttribute("data-template").replace("{max}", max);
      durationLive.classList.toggle("hidden", !tooLong);
      duration.setAttribute("aria-invalid", tooLong ? "true" : "false");
      if (tooLong) { ok = false; }
      var said = parseInt(declared.value, 10);
      var mismatch = !isNaN(said) && said !== lineCount();
      linesLive.textContent = linesLive.getAttribute("data-template")
        .replace("{declared}", isNaN(said) ? "" : said).replace("{entered}", lineCount());
      linesLive.classList.toggle("hidden", !mismatch);
      declared.setAttribute("aria-invalid", mismatch ? "true" : "false");
      if (mismatch) { ok = false; }
      return ok;
    };
    var wire = function (line) {
      var kind = line.querySelector("[data-line-kind]");
      kind.addEventListener("change", function () { showKind(line); });
      showKind(line);
      line.querySelector("[data-remove-line]").addEventListener("click", function () {
        line.remove(); renumber(); check();
      });
    };
    box.querySelectorAll("[data-rx-line]").forEach(wire);
    rx.querySelector("[data-add-line]").addEventListener("click", function () {
      var fragment = template.content.cloneNode(true);
      var line = fragment.querySelector("[data-rx-line]");
      box.appendChild(fragment);
      wire(line);
      renumber();
      check();
      line.querySelector("select").focus();
    });
    duration.addEventListener("input", check);
    declared.addEventListener("input", check);
    rx.addEventListener("submit", function (event) {
      if (!check()) {
        event.preventDefault();
        (durationLive.classList.contains("hidden") ? declared : duration).focus();
      }
    });
    renumber();
    check();
  }
})();
