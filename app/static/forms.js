// Forms (issue 18): after a submission with errors, focus moves to the first field in error
// (or, with none marked, to the first error message), so a keyboard or screen-reader user
// starts where the correction is needed. No framework, no inline script (the CSP forbids it).
(function () {
  "use strict";
  function focusFirstError() {
    var main = document.getElementById("main") || document.body;
    var field = main.querySelector("[aria-invalid='true']");
    if (field) {
      field.focus();
      return;
    }
    var message = main.querySelector(".flash-error, ul.errors");
    if (message) {
      if (!message.hasAttribute("tabindex")) {
        message.setAttribute("tabindex", "-1");
      }
      message.focus();
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusFirstError);
  } else {
    focusFirstError();
  }
})();
