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
