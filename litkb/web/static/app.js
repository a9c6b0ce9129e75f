// litkb: keyboard triage and in-place updates. Every page works without this file (forms and links).
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf");

  function toast(text) {
    var box = document.createElement("div");
    box.className = "toast";
    box.setAttribute("role", "status");
    box.textContent = text;
    document.body.appendChild(box);
    setTimeout(function () { box.remove(); }, 2500);
  }

  // Forms that change a record: sent in place (JSON answer), the row updated, no reload.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.method.toLowerCase() !== "post") { return; }
    event.preventDefault();
    var data = new FormData(form);
    fetch(form.action, {
      method: "POST",
      body: data,
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      if (!answer.ok) { toast(answer.body.error || "not saved"); return; }
      var paper = answer.body.paper;
      var row = form.closest(".paper, .record");
      if (row) {
        var status = row.querySelector(".status");
        if (status && paper.status) { status.textContent = paper.status; }
        var since = row.querySelector(".since");
        if (since && paper.status_date) { since.textContent = " (since " + paper.status_date + ")"; }
        var rating = row.querySelector(".rating");
        if (rating && paper.rating) { rating.textContent = paper.rating; }
        if (row.classList.contains("paper") && (paper.rating || paper.status === "read")) { row.classList.add("done"); }
      }
      var input = form.querySelector("input[name=add]");
      if (input) { input.value = ""; }
      toast("saved: " + paper.title.slice(0, 60));
    }).catch(function () { form.submit(); });
  });

  // Copy BibTeX.
  var copy = document.querySelector("button.copy");
  if (copy && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(document.getElementById(copy.getAttribute("data-copy")).textContent)
        .then(function () { toast("BibTeX copied"); });
    });
  }

  // Keyboard triage on lists: j/k move, l like, d dislike, r read, t tag, o open.
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-triage] .paper"));
  if (!rows.length) { return; }
  var current = -1;
  function select(index) {
    if (index < 0 || index >= rows.length) { return; }
    if (current >= 0) { rows[current].classList.remove("current"); }
    current = index;
    rows[current].classList.add("current");
    rows[current].focus({ preventScroll: true });
    rows[current].scrollIntoView({ block: "nearest" });
  }
  function press(selector) {
    if (current < 0) { return; }
    var button = rows[current].querySelector(selector);
    if (button) { button.click(); }
  }
  // A mark (like, dislike, read) is sent and the next paper selected: triage is one key a paper.
  function mark(selector) {
    if (current < 0) { return; }
    press(selector);
    select(current + 1);
  }
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var key = event.key;
    if (key === "j") { select(current + 1); }
    else if (key === "k") { select(current - 1); }
    else if (key === "l") { mark("button.like"); }
    else if (key === "d") { mark("button.dislike"); }
    else if (key === "r") { mark("button.read"); }
    else if (key === "t") { if (current >= 0) { rows[current].querySelector(".tagform input[name=add]").focus(); event.preventDefault(); } }
    else if (key === "o") { if (current >= 0) { rows[current].querySelector("a.open").click(); } }
    else { return; }
  });
})();
