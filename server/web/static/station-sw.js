/* The station tablet's service worker, served as /station/sw.js (scope /station/): the station page and its
   assets open without the network. The signed-in page (marked by the X-Takt-Offline-Page header) is kept
   per station path, refreshed on every online load, and dropped when the server answers with the sign-in
   form (signed out, session over); assets are network first, the cached copy when the network fails.
   Everything else (the API, state.json, live events, every POST) is not touched: the page's outbox sends
   its queued entries itself, with their Idempotency-Key, so nothing here can send anything twice. */
"use strict";
var CACHE = "takt-station-v2";
var ASSETS = ["/static/app.css", "/static/live.js", "/static/station.js", "/static/scan.js", "/static/station-pay.js",
              "/static/favicon.svg", "/static/icons/station-192.png", "/static/icons/station-512.png"];
var PAGE = /^\/station\/[^/]+$/;
var MANIFEST = /^\/station\/[^/]+\/manifest\.webmanifest$/;
var NETWORK_WAIT_MS = 4000;   /* flaky Wi-Fi: a cached page after this long beats a spinner */

self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(ASSETS); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf("takt-station-") === 0 && k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

/* The signed-in page into the cache, or out of it when the server now shows the sign-in form. */
function keep(path, response) {
  return caches.open(CACHE).then(function (c) {
    if (response.ok && response.headers.get("X-Takt-Offline-Page")) return c.put(path, response);
    if (response.ok) return c.delete(path);
  });
}

/* A page loaded before this worker controlled it asks to be kept (its first visit). */
self.addEventListener("message", function (e) {
  var path = e.data && e.data.keep;
  if (typeof path !== "string" || !PAGE.test(path)) return;
  e.waitUntil(fetch(path, { credentials: "same-origin", cache: "no-store" })
    .then(function (r) { return keep(path, r); }).catch(function () {}));
});

function withTimeout(promise, ms) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error("timeout")); }, ms);
    promise.then(function (v) { clearTimeout(timer); resolve(v); }, function (err) { clearTimeout(timer); reject(err); });
  });
}

function page(request, path) {
  var network = fetch(request);
  var stored = network.then(function (r) { return keep(path, r.clone()).then(function () { return r; }); });
  return withTimeout(stored, NETWORK_WAIT_MS).catch(function () {
    return caches.match(path).then(function (cached) { return cached || stored; });
  });
}

function asset(request, key) {
  return fetch(request).then(function (r) {
    if (r.ok) { var copy = r.clone(); caches.open(CACHE).then(function (c) { c.put(key, copy); }); }
    return r;
  }).catch(function () {
    return caches.match(key).then(function (cached) { return cached || Response.error(); });
  });
}

self.addEventListener("fetch", function (e) {
  var request = e.request, url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && PAGE.test(url.pathname)) {
    e.respondWith(page(request, url.pathname));
  } else if (ASSETS.indexOf(url.pathname) >= 0 || MANIFEST.test(url.pathname)) {
    e.respondWith(asset(request, url.pathname));
  }
});
