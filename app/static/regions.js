/* Region picker: as a code or a name (either script) is typed, the datalist of the region
   field is refilled from the server's look-up; when the region is still empty, the first six
   digits of the petitioner's ID number suggest it. The form works the same without this. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-region-lookup]");
  if (!form) { return; }
  var url = form.getAttribute("data-region-lookup");
  var input = form.querySelector("input[name=region]");
  var list = document.getElementById("region-options");
  var idNumber = form.querySelector("input[name=petitioner_id_number]");
  if (!input || !list) { return; }
  var timer = null;

  function fill(items) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    items.forEach(function (r) {
      var opt = document.createElement("option");
      opt.value = r.code;
      opt.textContent = r.code + " " + r.full_name + (r.retired ? " → " + r.successor : "") +
        (r.outside_jurisdiction ? " *" : "");
      list.appendChild(opt);
    });
  }

  function ask(params, then) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url + "?" + params);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      if (xhr.status === 200) { then(JSON.parse(xhr.responseText)); }
    };
    xhr.send();
  }

  input.addEventListener("input", function () {
    var q = input.value.trim();
    if (timer) { clearTimeout(timer); }
    if (!q || (/^\d+$/.test(q) && q.length < 2)) { return; }
    timer = setTimeout(function () {
      ask("q=" + encodeURIComponent(q), function (data) { fill(data.regions || []); });
    }, 200);
  });

  if (idNumber) {
    idNumber.addEventListener("change", function () {
      var six = idNumber.value.trim().slice(0, 6);
      if (input.value.trim() || !/^\d{6}$/.test(six)) { return; }
      ask("id_number=" + encodeURIComponent(six), function (data) {
        if (data.suggested && !input.value.trim()) {
          input.value = data.suggested.code;
          fill([data.suggested]);
        }
      });
    });
  }
}());
