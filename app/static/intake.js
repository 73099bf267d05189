// Intake progress (issue 20): on the record page, while an attachment's text is being
// extracted or recognised ("recognising page 3 of 7"), ask the JSON status of the record's
// attachments every few seconds and put each attachment's new status in place, until none
// is pending; the result (or the failure) shows without reloading the page. Without
// JavaScript the page shows the same status and a reload brings it up to date.
(function () {
  "use strict";
  var DELAY = 2000;

  function busy(list) {
    return list.querySelector(".intake-status.intake-pending, .intake-status.intake-running");
  }

  function update(list, data) {
    data.attachments.forEach(function (a) {
      var el = list.querySelector(".intake-status[data-attachment='" + a.attachment + "']");
      if (el && el.getAttribute("data-key") !== a.key) {
        var holder = document.createElement("span");
        holder.innerHTML = a.html;
        if (holder.firstElementChild) {
          el.replaceWith(holder.firstElementChild);
        }
      }
    });
  }

  function watch(list) {
    var url = list.getAttribute("data-intake-status-url");
    function poll() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) {
          if (!r.ok) { throw new Error("status " + r.status); }
          return r.json();
        })
        .then(function (data) {
          update(list, data);
          if (!data.finished) { window.setTimeout(poll, DELAY); }
        })
        .catch(function () { window.setTimeout(poll, DELAY * 5); });
    }
    if (busy(list)) { window.setTimeout(poll, DELAY); }
  }

  function start() {
    if (!window.fetch) { return; }
    document.querySelectorAll("[data-intake-status-url]").forEach(watch);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
