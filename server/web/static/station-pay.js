/* The operator's own pieces and pay on the station tablet (#my-pay): re-read from /api/v1/wages/me after each
   entry the tablet sent (station.js's "takt:sent") and every 30 s. */
(function () {
  "use strict";
  var box = document.getElementById("my-pay");
  var config = document.getElementById("station-config");
  if (!box || !config) return;
  var token = JSON.parse(config.textContent).token;
  function set(id, value) { document.getElementById(id).textContent = value; }
  function refresh() {
    fetch("/api/v1/wages/me", { headers: { "Authorization": "Bearer " + token }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (me) {
        if (!me) return;
        set("pay-pieces-today", me.pieces_today); set("pay-amount-today", me.amount_today);
        set("pay-pieces-period", me.pieces_period); set("pay-amount-period", me.amount_period);
      })
      .catch(function () { /* offline: the figures stay until the next try */ });
  }
  document.addEventListener("takt:sent", refresh);
  setInterval(refresh, 30000);
})();
