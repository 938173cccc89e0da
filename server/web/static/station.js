/* Station tablet: actions, one-sequence good + scrap reports, downtime reasons and inspection entry, the
   last three through an offline outbox (localStorage, same Idempotency-Key on every retry), live counts.
   Start/pause/resume/complete stay online-only: the server must confirm them. No dependencies. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("station-config").textContent);
  var T = cfg.t;
  var OUTBOX = "takt.outbox." + cfg.station;
  var $ = function (id) { return document.getElementById(id); };
  var job = $("job");
  var current = job && job.dataset.number ? { number: job.dataset.number, step: +job.dataset.step, status: job.dataset.status } : null;
  var sending = false;
  var LANG = document.documentElement.lang || "zh-CN";   /* the server answers errors in the page's language */
  var IN_FLIGHT = "a request with this Idempotency-Key is still in progress";   /* 409: retry, not a refusal */
  function errorText(j, status) {
    if (j && j.message) return j.message;
    if (j && typeof j.detail === "string") return j.detail;
    return j && j.detail ? JSON.stringify(j.detail) : String(status);
  }

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
    if (it.kind === "report") return it.number + " · +" + b.good + " / " + b.scrap + (b.scrap_reason ? " (" + b.scrap_reason + ")" : "");
    if (it.kind === "inspection") return it.label + " · " + b.work_order;
    return it.label;
  }
  function renderOutbox() {
    var items = load(), box = $("pending"), list = $("pending-list");
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
        return x.kind === "inspection" && !x.error && String(x.body.plan_id) === n.dataset.queuedCheck && current && x.body.work_order === current.number;
      });
      n.hidden = !queued;
      document.querySelector("[data-open-inspection='" + n.dataset.queuedCheck + "']").style.display = queued ? "none" : "";
    });
  }

  function api(method, path, body) {
    var headers = { "Content-Type": "application/json", "Authorization": "Bearer " + cfg.token, "Accept-Language": LANG };
    return fetch(path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined, credentials: "same-origin" });
  }

  function sent(it) {
    save(load().filter(function (x) { return x.key !== it.key; }));
    if (it.kind === "inspection" && current && it.body.work_order === current.number) {
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

  /* Report dialog: good + scrap + reason, one sequence. */
  var reason = null;
  var dlg = $("report-dialog");
  if ($("btn-report")) {
    $("btn-report").onclick = function () {
      $("report-good").value = "0"; $("report-scrap").value = "0"; reason = null; $("report-error").hidden = true;
      document.querySelectorAll("[data-scrap-reason]").forEach(function (b) { b.classList.remove("selected"); });
      dlg.showModal();
    };
    document.querySelectorAll("[data-scrap-reason]").forEach(function (b) {
      b.onclick = function () {
        reason = b.dataset.scrapReason;
        document.querySelectorAll("[data-scrap-reason]").forEach(function (x) { x.classList.toggle("selected", x === b); });
      };
    });
    $("report-send").onclick = function (ev) {
      var good = parseInt($("report-good").value || "0", 10), scrap = parseInt($("report-scrap").value || "0", 10);
      var err = $("report-error");
      if (!(good > 0 || scrap > 0)) { ev.preventDefault(); err.textContent = T.need_parts; err.hidden = false; return; }
      if (scrap > 0 && !reason) { ev.preventDefault(); err.textContent = T.need_reason; err.hidden = false; return; }
      var body = { step_no: current.step, good: good, scrap: scrap, ts_ms: Date.now() };
      if (scrap > 0) body.scrap_reason = reason;
      enqueue({ kind: "report", path: reportPath(current.number), number: current.number, body: body, token: cfg.token });
    };
  }

  /* Start / pause / resume / complete. A complete below target comes back 409 with the numbers
     (`short`): the operator confirms them in a dialog, which sends it again with confirm_short. */
  var sd = $("short-dialog");
  function act(b, body) {
    b.disabled = true;
    api("POST", "/api/v1/work-orders/" + encodeURIComponent(current.number) + "/" + b.dataset.action, body).then(function (r) {
      if (r.ok) { location.reload(); return; }
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
      act(b, Object.assign({}, body, { confirm_short: true }));
    };
    sd.showModal();
  }
  if ($("short-cancel")) $("short-cancel").onclick = function () { sd.close(); };
  document.querySelectorAll("[data-action]").forEach(function (b) {
    b.onclick = function () {
      var body = { step_no: current.step };
      if ((b.dataset.action === "start" || b.dataset.action === "resume") && cfg.machine) body.machine = cfg.machine;
      act(b, body);
    };
  });
  function showError(text) { var e = $("action-error"); e.textContent = text; e.hidden = false; }

  /* Downtime: ask why when the machine stopped. */
  var dd = $("downtime-dialog"), askedFor = null, later = {};
  function askDowntime(dt) {
    if (!dt || load().some(function (x) { return x.kind === "downtime" && x.downtime === dt.id; })) return;
    if (later[dt.id] || dd.open || askedFor === dt.id || document.querySelector("dialog[open]")) return;
    askedFor = dt.id; dd.dataset.id = dt.id; dd.showModal();
  }
  document.querySelectorAll("[data-downtime-reason]").forEach(function (b) {
    b.onclick = function () {   /* same id + same reason again is the same result: safe to retry */
      var id = +dd.dataset.id;
      enqueue({ kind: "downtime", path: "/api/v1/downtime/" + id + "/classify", body: { reason_code: b.dataset.downtimeReason },
                token: cfg.token, downtime: id, label: b.textContent });
      dd.close();
    };
  });
  $("downtime-later").onclick = function () { later[dd.dataset.id] = true; askedFor = null; dd.close(); };

  /* Inspection entry: numeric values with limits shown, pass/fail attributes. */
  var due = JSON.parse(document.getElementById("due-plans").textContent);
  var idlg = $("inspection-dialog"), plan = null;
  document.querySelectorAll("[data-open-inspection]").forEach(function (b) {
    b.onclick = function () {
      plan = due.filter(function (p) { return String(p.plan_id) === b.dataset.openInspection; })[0];
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
    };
  });
  if ($("inspection-send")) $("inspection-send").onclick = function (ev) {
    ev.preventDefault();
    var values = [];
    document.querySelectorAll("#inspection-fields [data-char]").forEach(function (i) { values.push({ characteristic_id: +i.dataset.char, value: parseFloat(i.value) }); });
    document.querySelectorAll("#inspection-fields [data-char-ok]").forEach(function (s) { values.push({ characteristic_id: +s.dataset.charOk, ok: s.value === "1" }); });
    if (values.some(function (v) { return v.value !== undefined && isNaN(v.value); })) {
      var e = $("inspection-error"); e.textContent = T.need_values; e.hidden = false; return;
    }
    enqueue({ kind: "inspection", path: "/station/" + encodeURIComponent(cfg.station) + "/inspection", label: plan.name,
              body: { plan_id: plan.plan_id, work_order: current.number, step_no: current.step, values: values } });
    idlg.close();   /* the values are kept in the outbox */
  };

  /* Live (live.js): a machine state event is applied at once; counts and the rest are re-read from
     state.json (throttled after events, and every few seconds). */
  function applyEvent(ev) {
    if (ev.kind !== "machine_state") return;
    var st = $("machine-state");
    st.dataset.state = ev.state; st.className = "pill st-" + ev.state; st.textContent = (T.states[ev.state] || ev.state);
  }
  function noData(since) {   /* an offline machine: when its data stopped (site time), not a state */
    var el = $("no-data");
    if (!el) return;
    el.hidden = !since;
    el.textContent = since ? T.no_data.replace("%(time)s", since) : "";
  }
  function apply(s) {
    var st = $("machine-state");
    st.dataset.state = s.machine_state; st.className = "pill st-" + s.machine_state;
    st.textContent = (T.states[s.machine_state] || s.machine_state);
    noData(s.no_data_since);
    if (s.current && current && s.current.number === current.number) {
      $("count-good").textContent = s.current.good; $("count-scrap").textContent = s.current.scrap;
      $("manual-good").textContent = s.current.manual_good; $("manual-scrap").textContent = s.current.manual_scrap;
      $("job-bar").style.width = Math.min(100, s.current.percent) + "%";
      if ($("queue-current-good")) $("queue-current-good").textContent = s.current.good;
      if (s.current.status !== current.status && !document.querySelector("dialog[open]")) location.reload();
    } else if ((s.current ? s.current.number : null) !== (current ? current.number : null) && !document.querySelector("dialog[open]")) {
      location.reload();
    }
    if (s.downtime && s.machine_state !== "running") askDowntime(s.downtime);
  }
  function refresh() {
    var prefer = new URLSearchParams(location.search).get("order");
    return fetch("/station/" + encodeURIComponent(cfg.station) + "/state.json" + (prefer ? "?order=" + encodeURIComponent(prefer) : ""), { credentials: "same-origin", cache: "no-store" })
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
  apply(cfg.state);
  flush();
  window.taktStation = { outbox: load, flush: flush, enqueue: enqueue };   /* enqueue: scan.js's issues */
})();
