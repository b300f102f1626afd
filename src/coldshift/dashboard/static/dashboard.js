// The dashboard's only script: poll the two live fragments and swap them in.
// Jobs every second; hosts whenever the set of running jobs changes, and every 5 s.
(function () {
  "use strict";
  var JOBS_MS = 1000, HOSTS_MS = 5000;
  var jobs = document.getElementById("jobs");
  var hosts = document.getElementById("hosts");
  var live = document.getElementById("live");
  var lastHosts = 0;

  function signature() {
    var panel = jobs.querySelector(".jobs-panel");
    return panel ? panel.getAttribute("data-signature") : "";
  }

  function load(section) {
    return fetch(section.getAttribute("data-src"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location.assign("/dashboard"); throw new Error("signed out"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) { section.innerHTML = html; });
  }

  function tick() {
    if (document.hidden) { setTimeout(tick, JOBS_MS); return; }
    var before = signature();
    load(jobs)
      .then(function () {
        var now = Date.now();
        if (signature() !== before || now - lastHosts >= HOSTS_MS) {
          lastHosts = now;
          return load(hosts);
        }
      })
      .then(function () { live.classList.remove("stale"); }, function () { live.classList.add("stale"); })
      .then(function () { setTimeout(tick, JOBS_MS); });
  }
  lastHosts = Date.now();
  setTimeout(tick, JOBS_MS);
})();
