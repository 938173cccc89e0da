/* Issue by scan at the station (领料): a USB/Bluetooth scanner types the lot code and Enter into the focused
   #scan-input; or the camera reads the label's QR (the browser's BarcodeDetector where present, else the
   vendored jsQR, loaded on first use). A lot code (or a lot label's URL, .../l/CODE) is issued to the current
   order through the station's outbox (same Idempotency-Key on every retry, kept offline); a job traveler's
   QR (.../station/go/NUMBER) opens that job in place (station.js's switchTo, like a tap on the queue).
   Online, an unknown code is said at once; offline, the outbox shows the server's refusal when it answers.
   No dependencies. */
(function () {
  "use strict";
  /* The scan card is part of the swapped #station-live (station.js): look its elements up when used, and
     take taps and submits by delegation, so a swapped-in card (another job, or the first) works at once. */
  var cfg = JSON.parse(document.getElementById("station-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  function scanConfig() { return JSON.parse($("scan-config").textContent); }   /* this job's number and texts */

  function say(text, bad) { var msg = $("scan-message"); if (!msg) return; msg.textContent = text; msg.hidden = false; msg.className = "big" + (bad ? " red" : ""); }
  function fill(text, params) { return text.replace(/%\((\w+)\)s/g, function (_, k) { return params[k]; }); }

  /* What a scanned text means: {lot} or {job}. */
  function parse(text) {
    var code = text.trim(), m;
    if ((m = code.match(/\/station\/go\/([^/?#]+)/))) return { job: decodeURIComponent(m[1]) };
    if ((m = code.match(/\/l\/([^/?#]+)/))) return { lot: decodeURIComponent(m[1]) };
    return { lot: code };
  }

  function issue(lot) {
    var sc = scanConfig(), T = sc.t;
    window.taktStation.enqueue({ kind: "issue", path: "/api/v1/stock/issues", token: cfg.token, label: lot + " → " + sc.number,
                                 body: { lot_code: lot, work_order: sc.number } });
    say(fill(T.queued, { lot: lot }), false);
  }

  function handle(text) {
    var what = parse(text), T = scanConfig().t;
    if (what.job) { say(fill(T.opening, { number: what.job }), false); window.taktStation.switchTo(what.job); return; }
    if (!what.lot) return;
    var headers = { "Authorization": "Bearer " + cfg.token };
    fetch("/api/v1/lots/" + encodeURIComponent(what.lot), { headers: headers, credentials: "same-origin" }).then(function (r) {
      if (r.status === 404) { say(fill(T.unknown, { code: what.lot }), true); return; }
      issue(what.lot);   /* known, or the server could not tell now: the outbox sends it and shows any refusal */
    }).catch(function () { issue(what.lot); });   /* offline: queued, checked when sent */
  }

  document.addEventListener("submit", function (ev) {
    if (ev.target.id !== "scan-form") return;
    ev.preventDefault();
    var input = $("scan-input"), text = input.value; input.value = "";
    if (text.trim()) handle(text);
    input.focus();
  });
  /* A keyboard-wedge scanner types into whatever has focus: keep it on the scan field. */
  function refocus() {
    var input = $("scan-input");
    if (input && !document.querySelector("dialog[open]") && (document.activeElement === document.body || !document.activeElement)) input.focus();
  }
  document.addEventListener("click", function () { setTimeout(refocus, 0); });
  document.addEventListener("takt:swapped", function () { stop(); refocus(); });   /* another job's card */
  refocus();

  /* Camera */
  var stream = null;
  function stop() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    if ($("scan-video")) $("scan-video").hidden = true;
  }
  function loadJsQR() {
    return new Promise(function (ok, fail) {
      if (window.jsQR) return ok(window.jsQR);
      var s = document.createElement("script"); s.src = "/static/vendor/jsqr/jsQR.js";
      s.onload = function () { ok(window.jsQR); }; s.onerror = fail; document.head.appendChild(s);
    });
  }
  function detector() {
    if ("BarcodeDetector" in window) {
      var d = new window.BarcodeDetector({ formats: ["qr_code"] });
      return Promise.resolve(function (v) { return d.detect(v).then(function (c) { return c.length ? c[0].rawValue : null; }); });
    }
    return loadJsQR().then(function (jsQR) {
      var canvas = document.createElement("canvas"), ctx = canvas.getContext("2d", { willReadFrequently: true });
      return function (v) {
        canvas.width = v.videoWidth; canvas.height = v.videoHeight;
        if (!canvas.width) return Promise.resolve(null);
        ctx.drawImage(v, 0, 0);
        var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
        var found = jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
        return Promise.resolve(found ? found.data : null);
      };
    });
  }
  document.addEventListener("click", function (ev) {
    if (ev.target.closest && ev.target.closest("#scan-camera")) camera();
  });
  function camera() {
    var video = $("scan-video"), T = scanConfig().t;
    if (stream) { stop(); return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { say(T.no_camera, true); return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (s) {
      stream = s; video.srcObject = s; video.hidden = false; video.play(); say(T.looking, false);
      return detector().then(function (read) {
        function tick() {
          if (!stream) return;
          read(video).then(function (text) {
            if (text) { stop(); handle(text); } else { setTimeout(tick, 200); }
          }).catch(function () { setTimeout(tick, 500); });
        }
        tick();
      });
    }).catch(function () { stop(); say(T.no_camera, true); });
  }
})();
