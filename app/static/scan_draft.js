// The registration form's scan (issue 20): the clerk picks a scan and asks for its text; it is
// sent to /intake/drafts (sealed there and recognised by the job runner, outside the request),
// its status is asked every 1.5 s ("recognising page 3 of 7"), then the scan is shown beside
// the recognised text in an editable box. "Take as the body" puts the (corrected) text into the
// body field; "Ignore the text" leaves the body as it is. Nothing fills the body by itself. The
// scan itself is attached to the letter when the form is registered (hidden field scan_draft).
(function () {
  "use strict";
  var DELAY = 1500;

  function start() {
    var box = document.querySelector(".scan-offer[data-draft-url]");
    if (!box || !window.fetch || !window.FormData) { return; }
    var form = box.closest("form");
    var draft = form.querySelector("input[name='scan_draft']");
    var taken = form.querySelector("input[name='scan_text_taken']");
    var body = form.querySelector("textarea[name='body']");
    var file = box.querySelector("#scan-file");
    var status = box.querySelector("[data-scan-status]");
    var result = box.querySelector("[data-scan-result]");
    var image = box.querySelector("[data-scan-image]");
    var link = box.querySelector("[data-scan-link]");
    var text = box.querySelector("[data-scan-text]");
    var timer = null;
    box.hidden = false;

    function say(message) { status.textContent = message || ""; }

    function show(data) {
      say(data.note);
      if (data.status === "pending" || data.status === "running") {
        timer = window.setTimeout(function () { poll(data.status_url || statusUrl(data.draft)); }, DELAY);
        return;
      }
      if (data.status !== "done") { return; }
      if (data.inline) {
        image.src = data.scan_url;
        image.hidden = false;
        link.hidden = true;
      } else {
        link.href = data.scan_url;
        link.hidden = false;
        image.hidden = true;
      }
      text.value = data.text || "";
      result.hidden = false;
      result.setAttribute("data-draft", data.draft);
    }

    function statusUrl(id) { return box.getAttribute("data-draft-url") + "/" + id; }

    function poll(url) {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (data) { data.status_url = url; show(data); })
        .catch(function () { timer = window.setTimeout(function () { poll(url); }, DELAY * 4); });
    }

    box.querySelector("[data-scan-recognise]").addEventListener("click", function () {
      if (!file.files.length) { file.focus(); return; }
      if (timer) { window.clearTimeout(timer); }
      result.hidden = true;
      taken.value = "";
      var sent = new FormData();
      sent.append("scan", file.files[0]);
      var token = form.querySelector("input[name='csrf_token']");
      if (token) { sent.append("csrf_token", token.value); }
      say("…");
      fetch(box.getAttribute("data-draft-url"), {method: "POST", body: sent, credentials: "same-origin",
                                                 headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); })
        .then(function (answer) {
          if (!answer.ok) {
            var fields = answer.data.fields || {};
            say([answer.data.error].concat(Object.keys(fields).map(function (k) { return fields[k]; })).join(" "));
            return;
          }
          draft.value = answer.data.draft;
          poll(answer.data.status_url);
        })
        .catch(function () { say(""); });
    });

    box.querySelector("[data-scan-accept]").addEventListener("click", function () {
      body.value = text.value;
      taken.value = "yes";
      body.focus();
    });

    box.querySelector("[data-scan-ignore]").addEventListener("click", function () {
      taken.value = "";
      result.hidden = true;
      say("");
    });

    if (draft.value) { poll(statusUrl(draft.value)); }   // the form came back (a field to correct)
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
