// Slipway dashboard: progressive enhancement only. Every page works
// without this file; with it, running builds and followed logs append
// new lines by themselves, and approve/rollback ask for confirmation.
(function () {
  "use strict";

  document.addEventListener("submit", function (e) {
    var b = e.submitter;
    if (b && b.dataset.confirm && !window.confirm(b.dataset.confirm)) {
      e.preventDefault();
    }
  });

  function line(cls, text) {
    var s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  }

  function atBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  }

  // A running build: its events arrive as server-sent events.
  var buildLog = document.getElementById("build-log");
  if (buildLog && buildLog.dataset.events && window.EventSource) {
    var status = document.getElementById("build-status");
    var note = document.querySelector(".live-note");
    if (note) note.textContent = "Live: new lines appear as the build runs.";
    var es = new EventSource(buildLog.dataset.events);
    var add = function (e) {
      var ev = JSON.parse(e.data);
      var stick = atBottom(buildLog);
      var text = (ev.type === "step" ? "▸ " : "") + (ev.message || "");
      (ev.details || []).forEach(function (d) { text += "\n  " + d; });
      buildLog.appendChild(line("ev ev-" + ev.type, text));
      buildLog.appendChild(document.createTextNode("\n"));
      if (stick) buildLog.scrollTop = buildLog.scrollHeight;
      if (status && (ev.type === "done" || ev.type === "error")) {
        status.textContent = ev.type === "done" ? "succeeded" : "failed";
        status.className = "badge b-" + status.textContent;
      }
    };
    ["step", "log", "done", "error"].forEach(function (t) { es.addEventListener(t, add); });
    es.addEventListener("end", function () {
      es.close();
      if (note) note.textContent = "The build has ended.";
    });
  }

  // The log viewer: Follow polls for lines after the newest shown.
  var logLines = document.getElementById("log-lines");
  var follow = document.getElementById("follow");
  if (logLines && follow && window.fetch) {
    follow.hidden = false;
    var timer = null;
    var poll = function () {
      var q = new URLSearchParams({ kind: logLines.dataset.kind, grep: logLines.dataset.grep, after: logLines.dataset.after });
      fetch(window.location.pathname + "/lines?" + q.toString(), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (body) {
          var stick = atBottom(logLines);
          (body.lines || []).forEach(function (l) {
            var empty = document.getElementById("no-lines");
            if (empty) empty.remove();
            var s = line("line", "");
            var t = document.createElement("time");
            t.dateTime = l.time;
            t.textContent = l.time.replace("T", " ").replace(/\.\d+/, "").replace("Z", "");
            s.appendChild(t);
            s.appendChild(document.createTextNode(" "));
            if (l.instance) {
              s.appendChild(line("inst", l.instance));
              s.appendChild(document.createTextNode(" "));
            }
            s.appendChild(document.createTextNode(l.text));
            logLines.appendChild(s);
            logLines.appendChild(document.createTextNode("\n"));
            logLines.dataset.after = l.time;
          });
          if (stick) logLines.scrollTop = logLines.scrollHeight;
        })
        .catch(function () { /* keep following; the next poll retries */ });
    };
    follow.addEventListener("click", function () {
      if (timer) {
        clearInterval(timer);
        timer = null;
        follow.textContent = "Follow";
        follow.classList.remove("active");
        return;
      }
      poll();
      timer = setInterval(poll, 2000);
      follow.textContent = "Following… (stop)";
      follow.classList.add("active");
    });
  }
})();
