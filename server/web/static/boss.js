/* Boss page: swap in /boss/fragment on live events (SSE) and on a timer; no dependencies. */
(function () {
  "use strict";
  var main = document.getElementById("boss-main"), status = document.getElementById("live-status");
  var pending = null, loading = false, again = false;
  function reload() {
    if (loading) { again = true; return; }
    loading = true;
    fetch("/boss/fragment", { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.status === 401 || r.redirected) { location.reload(); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) { if (html) main.innerHTML = html; }).catch(function () {}).then(function () {
      loading = false; if (again) { again = false; reload(); }
    });
  }
  function soon() { if (!pending) pending = setTimeout(function () { pending = null; reload(); }, 150); }
  if (window.EventSource) {
    var es = new EventSource("/live/events");
    es.onopen = function () { status.textContent = status.dataset.ok; };
    es.onerror = function () { status.textContent = status.dataset.bad; };
    es.onmessage = soon;
  }
  setInterval(reload, 1000 * parseFloat(main.dataset.refresh || "30"));
})();
