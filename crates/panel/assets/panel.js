// Panel1: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Progress regions: an element with data-poll (a URL) and data-final="false" is replaced
  // by a fresh copy from that URL every 1.5 s (or every data-poll-every ms) until the copy
  // says data-final="true".
  function poll(el) {
    var url = el.getAttribute("data-poll");
    if (!url || el.getAttribute("data-final") === "true") return;
    var every = parseInt(el.getAttribute("data-poll-every"), 10) || 1500;
    setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html", "X-Panel-Fragment": "1" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) {
          var t = document.createElement("template");
          t.innerHTML = html.trim();
          var fresh = t.content.querySelector("[data-poll]");
          if (!fresh) return;
          el.replaceWith(fresh);
          poll(fresh);
        })
        .catch(function () { setTimeout(function () { poll(el); }, 3000); });
    }, every);
  }
  document.querySelectorAll("[data-poll]").forEach(poll);

  // Confirmations: a link with data-confirm asks in a dialog and posts the form itself;
  // without JavaScript the link opens the confirmation page instead.
  var csrf = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-confirm]");
    if (!a || !csrf || typeof HTMLDialogElement === "undefined") return;
    ev.preventDefault();
    var d = document.createElement("dialog");
    d.setAttribute("aria-labelledby", "confirm-title");
    var h = document.createElement("h2"); h.id = "confirm-title"; h.textContent = a.getAttribute("data-title") || "Are you sure?";
    var p = document.createElement("p"); p.textContent = a.getAttribute("data-confirm");
    var f = document.createElement("form"); f.method = "post"; f.action = a.getAttribute("href");
    var i = document.createElement("input"); i.type = "hidden"; i.name = "_csrf"; i.value = csrf.getAttribute("content");
    var row = document.createElement("div"); row.className = "actions";
    var ok = document.createElement("button"); ok.type = "submit"; ok.className = "danger"; ok.textContent = a.getAttribute("data-button") || "Confirm";
    var no = document.createElement("button"); no.type = "button"; no.className = "secondary"; no.textContent = "Cancel";
    no.addEventListener("click", function () { d.close(); });
    d.addEventListener("close", function () { d.remove(); a.focus(); });
    row.append(ok, no); f.append(i, row); d.append(h, p, f);
    document.body.append(d);
    d.showModal();
    no.focus();
  });

  // Copy buttons for secrets shown once.
  document.querySelectorAll("[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var src = document.getElementById(b.getAttribute("data-copy"));
      if (!src || !navigator.clipboard) return;
      navigator.clipboard.writeText(src.textContent.trim()).then(function () {
        b.textContent = "Copied";
      });
    });
  });

  // Parts of a form that apply to one choice of a select (a registrar's type, a validation
  // method): only the chosen one is shown. Without JavaScript all are shown and the server
  // uses the one that applies.
  document.querySelectorAll("[data-when-field]").forEach(function (part) {
    var sel = document.getElementById(part.getAttribute("data-when-field"));
    if (!sel) return;
    var show = function () {
      var want = part.getAttribute("data-when-value").split(" ");
      part.hidden = want.indexOf(sel.value) < 0;
    };
    sel.addEventListener("change", show);
    show();
  });

  // Move focus to the error summary of a form shown again with errors.
  var summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
})();
