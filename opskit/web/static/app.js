// opskit web: progressive enhancement only; every page works without it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var csrf = document.querySelector('meta[name="csrf-token"]');

  // Every htmx request carries the CSRF token, as every form does.
  document.addEventListener("htmx:configRequest", function (event) {
    if (csrf) { event.detail.headers["X-CSRF-Token"] = csrf.content; }
  });

  // Forms that change something ask first (data-confirm="...").
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var text = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (text && !window.confirm(text)) { event.preventDefault(); }
  });

  // A period field shows its date range only when "Dates from ... to ..." is chosen.
  function syncRange(select) {
    var range = select.parentNode.querySelector(".range");
    if (range) { range.classList.toggle("hidden", select.value !== "__range__"); }
  }
  document.querySelectorAll(".period-select").forEach(function (select) {
    syncRange(select);
    select.addEventListener("change", function () { syncRange(select); });
  });

  // A run that has just ended is delivered a moment later: look again until its email is there.
  var pending = document.getElementById("delivery-pending");
  if (pending) {
    window.setTimeout(function () { window.location.reload(); }, Number(pending.dataset.reloadMs) || 2000);
  }

  // The run's log, live: server-sent events; the tail of a long log first, then each new line.
  var log = document.getElementById("log");
  if (log && window.EventSource) {
    var source = new EventSource(log.dataset.stream);
    var state = document.getElementById("log-state");
    var follow = true;
    log.addEventListener("scroll", function () {
      follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
    });
    source.addEventListener("log", function (event) {
      log.appendChild(document.createTextNode(event.data + "\n"));
      if (follow) { log.scrollTop = log.scrollHeight; }
    });
    source.addEventListener("skipped", function () {
      var note = document.getElementById("log-skipped");
      if (note) { note.hidden = false; }
    });
    source.addEventListener("status", function (event) {
      if (state) { state.textContent = event.data; }
    });
    source.addEventListener("end", function (event) {
      source.close();
      log.dataset.ended = event.data;
      if (log.dataset.final !== "yes") { window.location.reload(); }
    });
  }
})();
