// Progressive enhancement only: every page works without this file.
// Copy buttons: shown only when the Clipboard API is there; they copy the text of their target.
(function () {
  "use strict";
  function textOf(element) {
    return element.value !== undefined && element.tagName === "INPUT" ? element.value : element.textContent;
  }
  function setUp() {
    if (!navigator.clipboard) {
      return;
    }
    document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      if (!target) {
        return;
      }
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(textOf(target)).then(
          function () {
            button.textContent = "Copied";
            setTimeout(function () { button.textContent = label; }, 2000);
          },
          function () {
            button.textContent = "Select and copy by hand";
          }
        );
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();

// Time-zone selects marked data-browser-zone: while they still show the default, preselect the
// browser's own zone when the list offers it (a form sent back with errors keeps what was chosen).
(function () {
  "use strict";
  function setUp() {
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (error) {
      return;
    }
    document.querySelectorAll("select[data-browser-zone]").forEach(function (select) {
      var chosen = select.querySelector("option[selected]");
      if (zone && (!chosen || chosen.value === "UTC") && select.querySelector('option[value="' + zone + '"]')) {
        select.value = zone;
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
