/* Machine page: trend of one tag from the historian with the vendored uPlot. */
(function () {
  "use strict";
  var el = document.getElementById("chart"), plot = null;
  function show(tag) {
    var url = "/boss/machines/" + encodeURIComponent(el.dataset.machine) + "/series.json?hours=" + el.dataset.hours + "&tag=" + encodeURIComponent(tag);
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      if (plot) { plot.destroy(); plot = null; }
      el.textContent = "";
      if (!d.t.length) { el.textContent = el.dataset.empty; return; }
      var opts = { width: el.clientWidth - 24, height: 260, series: [{ label: el.dataset.time }, { label: tag, stroke: "#1565c0", width: 2 }] };
      plot = new uPlot(opts, [d.t, d.v], el);
    });
  }
  var buttons = document.querySelectorAll("[data-tag]");
  buttons.forEach(function (b) { b.onclick = function () { show(b.dataset.tag); }; });
  if (buttons.length) show(buttons[0].dataset.tag);
})();
