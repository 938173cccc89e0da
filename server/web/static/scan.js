/* Issue by scan at the station (领料): a USB/Bluetooth scanner types the lot code and Enter into the focused
   #scan-input; or the camera reads the label's QR (the browser's BarcodeDetector where present, else the
   vendored jsQR, loaded on first use). A lot code (or a lot label's URL, .../l/CODE) is issued to the current
   order through the station's outbox (same Idempotency-Key on every retry, kept offline); a job traveler's
   QR (.../station/go/NUMBER) opens that job in place (station.js's switchTo, like a tap on the queue).
   Online, an unknown code is said at once; offline, the outbox shows the server's refusal when it answers. The card lives in the part station.js swaps (after actions and
   on refresh), so everything in it is found when used (delegated events) and the last message is shown again
   after a swap; the camera's view is a dialog of its own, outside that part. No dependencies. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("station-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var stream = null, last = null;

  function sc() { var el = $("scan-config"); return el ? JSON.parse(el.textContent) : null; }
  function say(text, bad) {
    last = { text: text, bad: bad, at: Date.now() };
    show();
  }
  function show() {
    var msg = $("scan-message");
    if (!msg || !last || Date.now() - last.at > 30000) return;
    msg.textContent = last.text; msg.hidden = false; msg.className = "big" + (last.bad ? " red" : "");
  }
  function fill(text, params) { return text.replace(/%\((\w+)\)s/g, function (_, k) { return params[k]; }); }

  /* What a scanned text means: {lot} or {job}. */
  function parse(text) {
    var code = text.trim(), m;
    if ((m = code.match(/\/station\/go\/([^/?#]+)/))) return { job: decodeURIComponent(m[1]) };
    if ((m = code.match(/\/l\/([^/?#]+)/))) return { lot: decodeURIComponent(m[1]) };
    return { lot: code };
  }

  function issue(lot, c) {
    window.taktStation.enqueue({ kind: "issue", path: "/api/v1/stock/issues", token: cfg.token, label: lot + " → " + c.number,
                                 body: { lot_code: lot, work_order: c.number } });
    say(fill(c.t.queued, { lot: lot }), false);
  }

  function handle(text) {
    var c = sc(), what = parse(text);
    if (!c) return;
    if (what.job) { say(fill(c.t.opening, { number: what.job }), false); window.taktStation.switchTo(what.job); return; }
    if (!what.lot) return;
    fetch("/api/v1/lots/" + encodeURIComponent(what.lot), { headers: { "Authorization": "Bearer " + cfg.token }, credentials: "same-origin" }).then(function (r) {
      if (r.status === 404) { say(fill(c.t.unknown, { code: what.lot }), true); return; }
      issue(what.lot, c);   /* known, or the server could not tell now: the outbox sends it and shows any refusal */
    }).catch(function () { issue(what.lot, c); });   /* offline: queued, checked when sent */
  }

  document.addEventListener("submit", function (ev) {
    if (!ev.target || ev.target.id !== "scan-form") return;
    ev.preventDefault();
    var input = $("scan-input"), text = input.value;
    input.value = "";
    if (text.trim()) handle(text);
    input.focus();
  });
  /* A keyboard-wedge scanner types into whatever has focus: keep it on the scan field, also after the
     live part was swapped. */
  function refocus() {
    var input = $("scan-input");
    if (input && !document.querySelector("dialog[open]") && (document.activeElement === document.body || !document.activeElement)) input.focus();
  }
  document.addEventListener("click", function () { setTimeout(refocus, 0); });
  document.addEventListener("takt:swapped", function () { show(); refocus(); });   /* station.js swapped the card in */
  refocus();

  /* Camera */
  function view() {   /* the camera's dialog, made once, outside the swapped part */
    var d = $("scan-camera-dialog");
    if (d) return d;
    d = document.createElement("dialog"); d.id = "scan-camera-dialog";
    d.innerHTML = "<video playsinline muted style='width:100%;max-height:60vh;background:#000'></video><p class='big'></p><button class='btn big' type='button'></button>";
    d.querySelector("button").onclick = stop;
    d.addEventListener("close", stop);
    document.body.appendChild(d);
    return d;
  }
  function stop() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    var d = $("scan-camera-dialog");
    if (d && d.open) d.close();
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
  function camera() {
    var c = sc();
    if (!c) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { say(c.t.no_camera, true); return; }
    var d = view(), video = d.querySelector("video");
    d.querySelector("p").textContent = c.t.looking; d.querySelector("button").textContent = c.t.close;
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (s) {
      stream = s; video.srcObject = s; d.showModal(); video.play();
      return detector().then(function (read) {
        function tick() {
          if (!stream) return;
          read(video).then(function (text) {
            if (text) { stop(); handle(text); } else { setTimeout(tick, 200); }
          }).catch(function () { setTimeout(tick, 500); });
        }
        tick();
      });
    }).catch(function () { stop(); say(c.t.no_camera, true); });
  }
  document.addEventListener("click", function (ev) {
    if (ev.target && ev.target.closest && ev.target.closest("#scan-camera")) camera();
  });
})();
