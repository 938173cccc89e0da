/* Live page updates, one pattern for every page: the server streams JSON events over SSE (/live/events:
   machine_state, counts, edge, inspection); the page applies each event itself, and re-reads its own view
   (throttled, so a burst of events is one re-read) for the figures an event does not carry; `rereadOn(event)`
   picks the events worth a re-read (default: all). No dependencies. */
window.taktLive = function (opts) {
  "use strict";
  var timer = null, last = 0, busy = false, again = false;
  var every = opts.every || 2000;
  function reread() {
    if (busy) { again = true; return; }
    busy = true; last = Date.now();
    Promise.resolve(opts.reread()).catch(function () {}).then(function () {
      busy = false; if (again) { again = false; soon(); }
    });
  }
  function soon() {   /* a trailing re-read at most once per `every` ms */
    if (timer) return;
    timer = setTimeout(function () { timer = null; reread(); }, Math.max(150, last + every - Date.now()));
  }
  if (window.EventSource && opts.url) {
    var es = new EventSource(opts.url), status = opts.status;
    if (status) {
      es.onopen = function () { status.textContent = status.dataset.ok; };
      es.onerror = function () { status.textContent = status.dataset.bad; };
    }
    es.onmessage = function (m) {
      var event;
      try { event = JSON.parse(m.data); } catch (e) { return; }
      if (opts.apply) opts.apply(event);
      if (!opts.rereadOn || opts.rereadOn(event)) soon();
    };
  }
  if (opts.refresh_s) setInterval(reread, 1000 * opts.refresh_s);
  return { soon: soon, reread: reread };
};
