/* Station tablet: actions, one-sequence good + scrap reports, downtime reasons and inspection entry, the
   last three through an offline outbox (localStorage, same Idempotency-Key on every retry), live counts.
   Start/pause/resume/complete stay online-only: the server must confirm them. The page never reloads
   itself: the part that changes (#station-live) is swapped for /station/{code}/fragment after an action or
   when the server's layout fingerprint changes, and counts are patched in place. No dependencies. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("station-config").textContent);
  var T = cfg.t, NAMES = cfg.reasons;
  var OUTBOX = "takt.outbox." + cfg.station;
  var STATION = "/station/" + encodeURIComponent(cfg.station);
  var $ = function (id) { return document.getElementById(id); };
  var sending = false;
  var prefer = new URLSearchParams(location.search).get("order");   /* the job the operator chose */
  var LANG = document.documentElement.lang || "zh-CN";   /* the server answers errors in the page's language */
  var IN_FLIGHT = "a request with this Idempotency-Key is still in progress";   /* 409: retry, not a refusal */
  function errorText(j, status) {
    if (j && j.message) return j.message;
    if (j && typeof j.detail === "string") return j.detail;
    return j && j.detail ? JSON.stringify(j.detail) : String(status);
  }
  function current() {
    var job = $("job");
    return job && job.dataset.number ? { number: job.dataset.number, step: +job.dataset.step, status: job.dataset.status } : null;
  }
  function liveState() { return JSON.parse($("live-state").textContent); }
  function reasonName(kind, code) { return (NAMES[kind] && NAMES[kind][code]) || code; }
  function dialogOpen() { return !!document.querySelector("dialog[open]"); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }
  function reportPath(number) { return "/api/v1/work-orders/" + encodeURIComponent(number) + "/reports"; }

  /* Outbox item: {kind: report | downtime | inspection, key, method, path, body, token (bearer; the
     inspection goes with the operator's cookie), label, error once refused}. Sent in order. */
  function load() {
    var items;
    try { items = JSON.parse(localStorage.getItem(OUTBOX) || "[]"); } catch (e) { return []; }
    items.forEach(function (it) {   /* queued before the outbox had kinds: a work report */
      if (!it.kind) { it.kind = "report"; it.method = "POST"; it.path = reportPath(it.number); }
    });
    return items;
  }
  function save(items) { localStorage.setItem(OUTBOX, JSON.stringify(items)); renderOutbox(); }
  function note(text) { var n = $("pending-note"); n.textContent = text; n.hidden = false; }

  function describe(it) {
    var b = it.body;
    if (it.kind === "report") return it.number + " · +" + b.good + " / " + b.scrap + (b.scrap_reason ? " (" + reasonName("scrap", b.scrap_reason) + ")" : "");
    if (it.kind === "inspection") return it.label + " · " + b.work_order;
    if (it.kind === "downtime") return reasonName("downtime", b.reason_code);
    return it.label;
  }
  function renderOutbox() {
    var items = load(), box = $("pending"), list = $("pending-list"), job = current();
    box.hidden = items.length === 0;
    if (box.hidden) $("pending-note").hidden = true;
    $("pending-count").textContent = String(items.length);
    list.innerHTML = "";
    items.forEach(function (it) {
      var li = document.createElement("li");
      li.dataset.key = it.key; li.dataset.kind = it.kind;
      li.textContent = (T.kinds[it.kind] || it.kind) + ": " + describe(it) + " · " + (it.error ? T.failed + ": " + it.error : T.pending);
      if (it.error) {
        var b = document.createElement("button"); b.className = "btn"; b.textContent = T.discard;
        b.onclick = function () { save(load().filter(function (x) { return x.key !== it.key; })); };
        li.appendChild(b);
      }
      list.appendChild(li);
    });
    document.querySelectorAll("[data-queued-check]").forEach(function (n) {   /* a queued check is not due again */
      var queued = items.some(function (x) {
        return x.kind === "inspection" && !x.error && String(x.body.plan_id) === n.dataset.queuedCheck && job && x.body.work_order === job.number;
      });
      n.hidden = !queued;
      document.querySelector("[data-open-inspection='" + n.dataset.queuedCheck + "']").style.display = queued ? "none" : "";
    });
  }

  /* "Stored": the server has it (not "queued offline", which the pending box says). */
  var storedTimer = null;
  function stored(it) {
    var el = $("stored");
    el.textContent = "✓ " + T.stored + ": " + (T.kinds[it.kind] || it.kind) + " · " + describe(it);
    el.hidden = false;
    clearTimeout(storedTimer);
    storedTimer = setTimeout(function () { el.hidden = true; }, 8000);
  }

  function api(method, path, body) {
    var headers = { "Content-Type": "application/json", "Authorization": "Bearer " + cfg.token, "Accept-Language": LANG };
    return fetch(path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined, credentials: "same-origin" });
  }

  function sent(it) {
    save(load().filter(function (x) { return x.key !== it.key; }));
    stored(it);
    reloadPart();   /* what it changed: counts reported, checks due, material issued */
    var job = current();
    if (it.kind === "inspection" && job && it.body.work_order === job.number) {
      var banner = document.querySelector(".banner[data-plan='" + it.body.plan_id + "']");   /* no longer due */
      if (banner) banner.remove();
    }
  }

  /* Send queued entries in order; keep anything not definitively answered. */
  function flush() {
    if (sending) return;
    var items = load().filter(function (x) { return !x.error; });
    if (!items.length) return;
    sending = true;
    var it = items[0];
    var headers = { "Content-Type": "application/json", "Idempotency-Key": it.key, "Accept-Language": LANG };
    if (it.token) headers.Authorization = "Bearer " + it.token;
    var req = { method: it.method, headers: headers, body: JSON.stringify(it.body), credentials: "same-origin" };
    fetch(it.path, req).then(function (r) {
      $("pending-note").hidden = true;   /* the server answered: not offline */
      if (r.status === 201 || r.status === 200) {
        sent(it);
        document.dispatchEvent(new CustomEvent("takt:sent", { detail: it.kind }));   /* e.g. station-pay.js */
        sending = false; live.soon(); flush();
      } else if (r.status >= 500 || r.status === 429) {
        sending = false; setTimeout(flush, 2000);   /* server trouble: retry */
      } else {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (r.status === 409 && String(j.detail || "").indexOf(IN_FLIGHT) === 0) { sending = false; setTimeout(flush, 2000); return; }
          var all = load();   /* refused (e.g. over quantity): keep it with the reason, in the page's language */
          all.forEach(function (x) { if (x.key === it.key) x.error = errorText(j, r.status); });
          save(all); sending = false; flush();
        });
      }
    }).catch(function () { sending = false; note(T.offline); setTimeout(flush, 2000); });
  }

  function enqueue(item) {
    item.key = uuid(); item.method = "POST"; item.created = Date.now();
    var items = load();
    items.push(item);
    save(items);
    if (!navigator.onLine) note(T.offline);
    flush();
  }

  /* The changing part of the page, swapped in place (never while a dialog is open: after it closes). */
  var swapLater = false;
  function withOrder(path) { return path + (prefer ? "?order=" + encodeURIComponent(prefer) : ""); }
  function reloadPart() {
    if (dialogOpen()) { swapLater = true; return Promise.resolve(); }
    return fetch(withOrder(STATION + "/fragment"), { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.status === 401) { location.reload(); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html === null || html === undefined) return;
      if (dialogOpen()) { swapLater = true; return; }
      $("station-live").innerHTML = html;
      renderOutbox();
      apply(liveState(), true);
      document.dispatchEvent(new CustomEvent("takt:swapped"));   /* scan.js: another job's card */
    }).catch(function () {});
  }
  document.querySelectorAll("dialog").forEach(function (d) {
    d.addEventListener("close", function () { if (swapLater) { swapLater = false; reloadPart(); } });
  });
  function switchTo(number) {   /* a tap on the queue: show that job (the API decides what it may do) */
    prefer = number;
    var url = new URL(location.href); url.searchParams.set("order", number);
    history.replaceState(null, "", url.pathname + url.search);
    $("action-error").hidden = true;
    reloadPart();
  }

  /* Report dialog: good + scrap + reason, one sequence. */
  var reason = null;
  var dlg = $("report-dialog");
  function openReport() {
    $("report-good").value = "0"; $("report-scrap").value = "0"; reason = null; $("report-error").hidden = true;
    select("[data-scrap-reason]", null);
    dlg.showModal();
  }
  function select(selector, chosen) {
    document.querySelectorAll(selector).forEach(function (x) {
      x.classList.toggle("selected", x === chosen); x.setAttribute("aria-pressed", String(x === chosen));
    });
  }
  $("report-send").onclick = function (ev) {
    var good = parseInt($("report-good").value || "0", 10), scrap = parseInt($("report-scrap").value || "0", 10);
    var err = $("report-error"), job = current();
    if (!(good > 0 || scrap > 0)) { ev.preventDefault(); err.textContent = T.need_parts; err.hidden = false; return; }
    if (scrap > 0 && !reason) { ev.preventDefault(); err.textContent = T.need_reason; err.hidden = false; return; }
    var body = { step_no: job.step, good: good, scrap: scrap, ts_ms: Date.now() };
    if (scrap > 0) body.scrap_reason = reason;
    enqueue({ kind: "report", path: reportPath(job.number), number: job.number, body: body, token: cfg.token });
  };

  /* Start / pause / resume / complete. A complete below target comes back 409 with the numbers
     (`short`): the operator confirms them in a dialog, which sends it again with confirm_short. */
  var sd = $("short-dialog");
  function act(b, action, body) {
    var job = current();
    b.disabled = true;
    api("POST", "/api/v1/work-orders/" + encodeURIComponent(job.number) + "/" + action, body).then(function (r) {
      if (r.ok) { b.disabled = false; $("action-error").hidden = true; reloadPart(); return; }
      return r.json().catch(function () { return {}; }).then(function (j) {
        b.disabled = false;
        if (r.status === 409 && j.short && j.short.length && !body.confirm_short) { askShort(b, body, j.short[0]); return; }
        showError(T.action_failed + ": " + errorText(j, r.status));
      });
    }).catch(function () { showError(T.offline_action); b.disabled = false; });
  }
  function askShort(b, body, s) {
    $("short-text").textContent = T.short.replace("%(made)s", s.made).replace("%(target)s", s.target);
    $("short-confirm").onclick = function () {
      sd.close();
      act(b, "complete", Object.assign({}, body, { confirm_short: true }));
    };
    sd.showModal();
  }
  $("short-cancel").onclick = function () { sd.close(); };
  function runAction(b) {
    var job = current(), body = { step_no: job.step };
    if ((b.dataset.action === "start" || b.dataset.action === "resume") && cfg.machine) body.machine = cfg.machine;
    act(b, b.dataset.action, body);
  }
  function showError(text) { var e = $("action-error"); e.textContent = text; e.hidden = false; }

  /* Pause: the operator may say why (a downtime reason), or not. */
  var pd = $("pause-dialog"), pauseReason = null;
  function openPause() { pauseReason = null; select("[data-pause-reason]", null); pd.showModal(); }
  $("pause-cancel").onclick = function () { pd.close(); };
  $("pause-confirm").onclick = function () {
    var body = { step_no: current().step };
    if (pauseReason) body.reason = pauseReason;
    pd.close();
    act($("pause-confirm"), "pause", body);
  };

  /* Downtime: ask why when the machine stopped. Nothing is chosen beforehand and nothing has the focus: the
     operator taps a reason (the likeliest come first), then saves it. */
  var dd = $("downtime-dialog"), askedFor = null, later = {}, downReason = null;
  function downtimeWhat(dt) {
    var state = dt.state ? (T.states[dt.state] || dt.state) : T.down_unknown;
    return T.down_for.replace("%(state)s", state).replace("%(min)s", dt.minutes);
  }
  function askDowntime(dt) {
    if (!dt || load().some(function (x) { return x.kind === "downtime" && x.downtime === dt.id; })) return;
    if (dd.open && +dd.dataset.id === dt.id) { $("downtime-what").textContent = downtimeWhat(dt); return; }
    if (later[dt.id] || dd.open || askedFor === dt.id || dialogOpen()) return;
    askedFor = dt.id; dd.dataset.id = dt.id; dd.dataset.state = dt.state || "";
    $("downtime-what").textContent = downtimeWhat(dt);
    var box = $("downtime-reasons"); box.innerHTML = "";
    dt.reasons.forEach(function (code) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "btn big"; b.dataset.downtimeReason = code; b.setAttribute("aria-pressed", "false");
      b.textContent = reasonName("downtime", code);
      box.appendChild(b);
    });
    downReason = null; $("downtime-save").disabled = true;
    dd.showModal();
  }
  $("downtime-save").onclick = function () {   /* same id + same reason again is the same result: safe to retry */
    if (!downReason) return;
    var id = +dd.dataset.id;
    enqueue({ kind: "downtime", path: "/api/v1/downtime/" + id + "/classify", body: { reason_code: downReason },
              token: cfg.token, downtime: id, label: reasonName("downtime", downReason) });
    dd.close();
  };
  $("downtime-later").onclick = function () { later[dd.dataset.id] = true; askedFor = null; dd.close(); };

  /* Inspection entry: numeric values with limits shown, pass/fail attributes. */
  var idlg = $("inspection-dialog"), plan = null;
  function openInspection(b) {
    plan = liveState().due.filter(function (p) { return String(p.plan_id) === b.dataset.openInspection; })[0];
    $("inspection-title").textContent = plan.name;
    var f = $("inspection-fields"); f.innerHTML = "";
    plan.characteristics.forEach(function (c) {
      var wrap = document.createElement("label");
      if (c.kind === "numeric") {
        var lim = T.limits + ": " + (c.lsl === null ? "—" : c.lsl) + " … " + (c.usl === null ? "—" : c.usl) + " " + c.unit;
        wrap.innerHTML = "<span></span><input class='numfield' type='number' step='any' inputmode='decimal' required><span class='muted small'></span>";
        wrap.children[0].textContent = c.name; wrap.children[2].textContent = lim;
        wrap.children[1].dataset.char = c.id;
      } else {
        wrap.innerHTML = "<span></span><select><option value='1'></option><option value='0'></option></select>";
        wrap.children[0].textContent = c.name; wrap.children[1].dataset.charOk = c.id;
        wrap.children[1].options[0].textContent = T.pass; wrap.children[1].options[1].textContent = T.fail;
      }
      f.appendChild(wrap);
    });
    $("inspection-error").hidden = true;
    idlg.showModal();
  }
  $("inspection-send").onclick = function (ev) {
    ev.preventDefault();
    var values = [], job = current();
    document.querySelectorAll("#inspection-fields [data-char]").forEach(function (i) { values.push({ characteristic_id: +i.dataset.char, value: parseFloat(i.value) }); });
    document.querySelectorAll("#inspection-fields [data-char-ok]").forEach(function (s) { values.push({ characteristic_id: +s.dataset.charOk, ok: s.value === "1" }); });
    if (values.some(function (v) { return v.value !== undefined && isNaN(v.value); })) {
      var e = $("inspection-error"); e.textContent = T.need_values; e.hidden = false; return;
    }
    enqueue({ kind: "inspection", path: STATION + "/inspection", label: plan.name,
              body: { plan_id: plan.plan_id, work_order: job.number, step_no: job.step, values: values } });
    idlg.close();   /* the values are kept in the outbox */
  };

  /* Every tap, by what was tapped (the swapped part brings new buttons: no handlers to re-bind). */
  document.addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target.closest("button") : null;
    if (!t) return;
    if (t.dataset.switch) switchTo(t.dataset.switch);
    else if (t.dataset.action) runAction(t);
    else if (t.id === "btn-pause") openPause();
    else if (t.id === "btn-report") openReport();
    else if (t.dataset.openInspection) openInspection(t);
    else if (t.dataset.scrapReason) { reason = t.dataset.scrapReason; select("[data-scrap-reason]", t); }
    else if (t.dataset.pauseReason) {
      pauseReason = pauseReason === t.dataset.pauseReason ? null : t.dataset.pauseReason;   /* a second tap: none */
      select("[data-pause-reason]", pauseReason ? t : null);
    } else if (t.dataset.downtimeReason) {
      downReason = t.dataset.downtimeReason; select("[data-downtime-reason]", t); $("downtime-save").disabled = false;
    }
  });

  /* Live (live.js): a machine state event is applied at once; counts and the rest are re-read from
     state.json (throttled after events, and every few seconds). */
  function showState(state) {
    var st = $("machine-state");
    st.dataset.state = state; st.className = "pill st-" + state; st.textContent = (T.states[state] || state);
  }
  function applyEvent(ev) { if (ev.kind === "machine_state") showState(ev.state); }
  function noData(since) {   /* an offline machine: when its data stopped (site time), not a state */
    var el = $("no-data");
    if (!el) return;
    el.hidden = !since;
    el.textContent = since ? T.no_data.replace("%(time)s", since) : "";
  }
  function apply(s, fresh) {
    showState(s.machine_state);
    noData(s.no_data_since);
    var job = current();
    if (!fresh && s.layout !== $("live-part").dataset.layout) { reloadPart(); return; }
    if (s.current && job && s.current.number === job.number) {
      $("count-good").textContent = s.current.good; $("count-scrap").textContent = s.current.scrap;
      $("manual-good").textContent = s.current.manual_good; $("manual-scrap").textContent = s.current.manual_scrap;
      $("job-bar").style.width = Math.min(100, s.current.percent) + "%";
      if ($("queue-current-good")) $("queue-current-good").textContent = s.current.good;
    }
    if (s.downtime && s.machine_state !== "running") askDowntime(s.downtime);
  }
  function refresh() {
    return fetch(withOrder(STATION + "/state.json"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (r.status === 401) { location.reload(); return null; } return r.ok ? r.json() : null; })
      .then(function (s) { if (s) apply(s); }).catch(function () {});
  }
  var live = window.taktLive({ url: cfg.machine ? "/live/events?machine=" + encodeURIComponent(cfg.machine) : null,
                               apply: applyEvent, reread: refresh, every: 500, refresh_s: 5 });
  /* Signing out revokes the token the queued reports are sent with: not while some still wait. */
  var signout = $("signout");
  if (signout) signout.form.addEventListener("submit", function (ev) {
    if (load().some(function (x) { return !x.error; })) { ev.preventDefault(); showError(T.wait_signout); flush(); }
  });
  /* The service worker (station-sw.js) opens this page without the network; a first visit asks it to keep
     the page (later online loads refresh it through the worker). */
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/station/sw.js", { scope: "/station/" }).catch(function () {});
    if (!navigator.serviceWorker.controller) navigator.serviceWorker.ready.then(function (reg) {
      if (reg.active) reg.active.postMessage({ keep: location.pathname });
    });
  }
  setInterval(flush, 3000);
  window.addEventListener("online", flush);
  renderOutbox();
  apply(liveState(), true);
  flush();
  /* enqueue: scan.js's issues; switchTo: a scanned job traveler */
  window.taktStation = { outbox: load, flush: flush, enqueue: enqueue, switchTo: switchTo };
})();
