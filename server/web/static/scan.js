/* Issue by scan at the station (领料): a USB/Bluetooth scanner types the lot code and Enter into the focused
   #scan-input; or the camera reads the label's QR (the browser's BarcodeDetector where present, else the
   vendored jsQR, loaded on first use). A lot code (or a lot label's URL, .../l/CODE) is issued to the current
   order through the station's outbox (same Idempotency-Key on every retry, kept offline); a job traveler's
   QR (.../station/go/NUMBER) opens that job. Online, an unknown code is said at once; offline, the outbox
   shows the server's refusal when it answers. No dependencies. */
(function () {
  "use strict";
  var form = document.getElementById("scan-form");
  if (!form) return;
  var cfg = JSON.parse(document.getElementById("station-config").textContent);
  var sc = JSON.parse(document.getElementById("scan-config").textContent);
  var input = document.getElementById("scan-input"), msg = document.getElementById("scan-message");
  var video = document.getElementById("scan-video");
  var T = sc.t;

  function say(text, bad) { msg.textContent = text; msg.hidden = false; msg.className = "big" + (bad ? " red" : ""); }
  function fill(text, params) { return text.replace(/%\((\w+)\)s/g, function (_, k) { return params[k]; }); }

  /* What a scanned text means: {lot} or {job}. */
  function parse(text) {
    var code = text.trim(), m;
    if ((m = code.match(/\/station\/go\/([^/?#]+)/))) return { job: decodeURIComponent(m[1]) };
    if ((m = code.match(/\/l\/([^/?#]+)/))) return { lot: decodeURIComponent(m[1]) };
    return { lot: code };
  }

  function issue(lot) {
    window.taktStation.enqueue({ kind: "issue", path: "/api/v1/stock/issues", token: cfg.token, label: lot + " → " + sc.number,
                                 body: { lot_code: lot, work_order: sc.number } });
    say(fill(T.queued, { lot: lot }), false);
  }

  function handle(text) {
    var what = parse(text);
    if (what.job) { say(fill(T.opening, { number: what.job }), false); location.href = "/station/go/" + encodeURIComponent(what.job); return; }
    if (!what.lot) return;
    var headers = { "Authorization": "Bearer " + cfg.token };
    fetch("/api/v1/lots/" + encodeURIComponent(what.lot), { headers: headers, credentials: "same-origin" }).then(function (r) {
      if (r.status === 404) { say(fill(T.unknown, { code: what.lot }), true); return; }
      issue(what.lot);   /* known, or the server could not tell now: the outbox sends it and shows any refusal */
    }).catch(function () { issue(what.lot); });   /* offline: queued, checked when sent */
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value; input.value = "";
    if (text.trim()) handle(text);
    input.focus();
  });
  /* A keyboard-wedge scanner types into whatever has focus: keep it on the scan field. */
  function refocus() { if (!document.querySelector("dialog[open]") && document.activeElement === document.body) input.focus(); }
  document.addEventListener("click", function () { setTimeout(refocus, 0); });
  input.focus();

  /* Camera */
  var stream = null;
  function stop() { if (stream) stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; video.hidden = true; }
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
  document.getElementById("scan-camera").onclick = function () {
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
  };
})();
