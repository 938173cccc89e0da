/* Boss page: live events (live.js) are applied to the machine tiles at once (state, counts); the figures
   they imply (alerts, OEE, orders, scrap by line) are re-read from /boss/fragment after a change of state
   (a machine, an edge, an inspection; at most every 10 s) and on a timer, never per count: a count only
   moves its tile's numbers, so an hour of a busy plant costs a phone well under 1 MB (bench_boss_bytes). */
(function () {
  "use strict";
  var main = document.getElementById("boss-main");
  var states = JSON.parse(main.dataset.states || "{}");
  function add(node, n) { if (node && n) node.textContent = String((parseInt(node.textContent, 10) || 0) + n); }
  function apply(ev) {
    if (!ev.machine) return;
    var tile = main.querySelector("[data-machine=\"" + CSS.escape(ev.machine) + "\"]");
    if (!tile) return;
    if (ev.kind === "machine_state") {
      tile.dataset.state = ev.state; tile.className = "card tile " + ev.state;
      var pill = tile.querySelector(".pill");
      if (pill) { pill.className = "pill st-" + ev.state; pill.textContent = states[ev.state] || ev.state; }
    } else if (ev.kind === "counts") {
      add(tile.querySelector("[data-count=good]"), ev.good);
      add(tile.querySelector("[data-count=scrap]"), ev.scrap);
    }
  }
  function reread() {
    return fetch("/boss/fragment", { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.status === 401 || r.redirected) { location.reload(); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) { if (html) main.innerHTML = html; });
  }
  window.taktLive({ url: "/live/events", apply: apply, reread: reread, every: 10000,
                    rereadOn: function (ev) { return ev.kind !== "counts"; },
                    status: document.getElementById("live-status"), refresh_s: parseFloat(main.dataset.refresh || "30") });
})();
