/* parc_mpi dashboard: pages drawn from the JSON API (docs/dashboard.md).
   Every string from a run goes in through textContent (el() below), never innerHTML.
   Pages poll every POLL ms while visible; nothing reloads the page. */
(function () {
  "use strict";
  var POLL = 2000;
  var main = document.getElementById("main");
  var tabsEl = document.getElementById("tabs");
  var crumb = document.getElementById("crumb");
  var conn = document.getElementById("conn");
  var timer = null, gen = 0, charts = [];
  var params = new URLSearchParams(location.search);
  var kiosk = params.get("view") === "kiosk";

  // -- helpers -------------------------------------------------------------
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "cls") e.className = attrs[k];
      else if (k === "on") for (var ev in attrs.on) e.addEventListener(ev, attrs.on[ev]);
      else e.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(parent) {  // add(parent, child, child, ...): nulls skipped, arrays flattened
    for (var i = 1; i < arguments.length; i++) addOne(parent, arguments[i]);
  }
  function addOne(parent, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { addOne(parent, c); }); return; }
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function na(x) { return x === null || x === undefined; }
  function fix(x, d, unit) { return na(x) ? "n/a" : Number(x).toFixed(d) + (unit || ""); }
  function g6(x) {
    if (na(x)) return "n/a";
    if (typeof x !== "number") return String(x);
    return Number.isInteger(x) ? String(x) : Number(x.toPrecision(6)).toString();
  }
  // what the pages show: 3 significant digits (the full value is in the CSV and, in
  // tables, in the cell's tooltip); integers as they are
  function g3(x, unit) {
    if (na(x)) return "n/a";
    if (typeof x === "boolean") return String(x);
    if (typeof x !== "number") return String(x);
    var a = Math.abs(x), out;
    if (Number.isInteger(x) && a < 1e6) out = String(x);
    else if (a !== 0 && (a >= 1e6 || a < 1e-3)) out = x.toExponential(2).replace("e+", "e");
    else out = String(Number(x.toPrecision(3)));
    return unit ? out + " " + unit : out;
  }
  function hq() { return new URLSearchParams(location.hash.split("?")[1] || ""); }
  function go(base, q) {  // a new view state: kept in the URL, so a link reproduces it
    var s = q.toString();
    location.hash = base + (s ? "?" + s : "");
  }
  function hms(s) {
    if (na(s)) return "n/a";
    s = Math.max(0, Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), x = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(x).padStart(2, "0");
  }
  function clock(t) { return na(t) ? "n/a" : new Date(t * 1000).toLocaleTimeString(); }
  function when(t) { return na(t) ? "n/a" : new Date(t * 1000).toLocaleString(); }
  function ago(t, now) { return na(t) ? "n/a" : Math.max(0, Math.round(now - t)) + " s ago"; }
  function badge(status) { return el("span", {cls: "status " + status, text: status}); }
  function api(path) {
    return fetch(path, {cache: "no-store"}).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error || r.statusText);
        return j;
      }, function () { throw new Error(r.status + " " + r.statusText); });
    });
  }
  function runUrl(id, what) {
    return "api/runs/" + encodeURIComponent(id) + (what ? "/" + what : "");
  }
  function table(head, rows) {
    return el("table", null, el("tr", null, head.map(function (h) {
      return typeof h === "object" ? h : el("th", {text: h});
    })), rows);
  }
  function nodesTable(head, rows) { var t = table(head, rows); t.className = "nodes"; return t; }
  function td(text, cls) { return el("td", cls ? {cls: cls, text: text} : {text: text}); }
  function bar(frac, cls) {
    var inner = el("div");
    inner.style.width = (100 * Math.max(0, Math.min(1, frac || 0))).toFixed(1) + "%";
    return el("div", {cls: "bar" + (cls ? " " + cls : "")}, inner);
  }
  function spark(ts, ys, lo, hi, w, h) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "spark"); svg.setAttribute("width", w); svg.setAttribute("height", h);
    var pts = [], t0 = ts[0], t1 = ts[ts.length - 1] || 1;
    ys.forEach(function (y) { if (!na(y)) { hi = Math.max(hi, y); lo = Math.min(lo, y); } });
    for (var i = 0; i < ts.length; i++) {
      if (na(ys[i])) continue;
      var x = t1 > t0 ? (ts[i] - t0) / (t1 - t0) * (w - 2) + 1 : w / 2;
      var y = h - 1 - (Math.min(hi, Math.max(lo, ys[i])) - lo) / (hi - lo) * (h - 2);
      pts.push(x.toFixed(1) + "," + y.toFixed(1));
    }
    var line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", pts.join(" "));
    line.setAttribute("fill", "none"); line.setAttribute("stroke", "#3b82c4");
    line.setAttribute("stroke-width", "1.5");
    svg.appendChild(line);
    return svg;
  }
  function showError(where, err) {
    clear(where);
    add(where, el("p", {cls: "error", text: String(err.message || err)}));
  }
  var lastKey = null;
  function changed(obj) {  // redraw a chart or a table only when its data changed
    var k = JSON.stringify(obj);
    if (k === lastKey) return false;
    lastKey = k; return true;
  }
  function poll(fn) {
    var mine = ++gen;
    lastKey = null;
    if (timer) clearTimeout(timer);
    charts.forEach(function (c) { c.destroy(); }); charts = [];
    function tick() {
      if (mine !== gen) return;
      var p = document.hidden ? Promise.resolve() : fn();
      Promise.resolve(p).then(function () {
        conn.textContent = "updated " + new Date().toLocaleTimeString();
      }, function (err) {
        conn.textContent = "not updated: " + (err.message || err);
      }).then(function () { if (mine === gen) timer = setTimeout(tick, POLL); });
    }
    tick();
  }

  // -- runs list ------------------------------------------------------------
  function runsPage() {
    crumb.textContent = ""; clear(tabsEl);
    poll(function () {
      return api("api/runs").then(function (j) {
        clear(main);
        add(main, el("h2", {text: (j.single ? "Run in " : "Runs in ") + j.root}));
        if (!j.runs.length) {
          add(main, el("p", {text: "No runs in " + j.root + " yet: start one with " +
            "python -m parc_mpi.run job.py (its run directory appears here)."}));
          return;
        }
        if (j.single && j.runs.length === 1 && !runsPage.shown) {  // --serve on one run opens on it
          runsPage.shown = true;
          location.replace("#/run/" + encodeURIComponent(j.runs[0].id) + "/overview");
          return;
        }
        add(main, table(["run (folder)", "job", "status", "job file", "kind", "started", "duration", "tasks"],
          j.runs.map(function (r) {
            var link = el("a", {href: "#/run/" + encodeURIComponent(r.id) + "/overview", text: r.id});
            return el("tr", null, el("td", null, link, r.error ? el("div", {cls: "error", text: r.error}) : null),
              td(r.name && r.name !== r.id ? r.name : ""), el("td", null, badge(r.status)), td(r.job_file || ""), td(r.kind || ""),
              td(when(r.started)), td(hms(r.duration)),
              td(na(r.tasks) ? "" : r.tasks + (r.total ? " / " + r.total : "")));
          })));
      });
    });
  }

  // -- one run ----------------------------------------------------------------
  var TABS = ["overview", "nodes", "results", "optimization", "failures", "network"];
  function tabs(id, on) {
    clear(tabsEl);
    TABS.forEach(function (t) {
      add(tabsEl, el("a", {href: "#/run/" + encodeURIComponent(id) + "/" + t, cls: t === on ? "on" : "", text: t}));
    });
  }
  function header(s) {
    crumb.textContent = "";
    add(crumb, [" / ", s.name, " ", badge(s.status)]);
  }

  function progress(s) {
    var frac = s.total ? s.done / s.total : (s.status === "finished" ? 1 : 0);  // starting: empty, not full
    var b = bar(frac);
    b.id = "progress"; b.setAttribute("data-done", s.done); b.setAttribute("data-total", s.total);
    return [b,
      el("p", {cls: "facts"},
        el("span", null, el("b", {text: "done"}), s.done + (s.total ? " / " + s.total + " (" + (100 * frac).toFixed(0) + "%)" : "")),
        el("span", null, el("b", {text: "failed"}), String(s.failed)),
        el("span", null, el("b", {text: "throughput"}), na(s.tasks_per_second) ? "n/a" : g3(s.tasks_per_second, "tasks/s")),
        s.status === "running" ? el("span", null, el("b", {text: "last 30 s"}), na(s.recent_tasks_per_second) ? "n/a" : g3(s.recent_tasks_per_second, "tasks/s")) : null,
        el("span", null, el("b", {text: "ETA"}), s.status !== "running" ? "-" : na(s.eta_seconds) ? "measuring" : hms(s.eta_seconds)),
        el("span", null, el("b", {text: "elapsed"}), hms(s.elapsed)))];
  }

  function stopButton(s) {
    if (s.status !== "running") return null;
    if (s.stop_requested) return el("p", {cls: "l1", text: "Soft stop requested: running tasks finish, then the run ends."});
    var msg = el("span", {cls: "muted"});
    var btn = el("button", {cls: "stop", text: "Soft stop", on: {click: function () {
      var token = sessionStorage.getItem("parc-token") || prompt("Stop token (printed by the server at start):");
      if (!token) return;
      fetch(runUrl(s.id, "stop"), {method: "POST", headers: {"Content-Type": "application/json", "X-Parc-Token": token}, body: "{}"})
        .then(function (r) { return r.json().then(function (j) { return [r, j]; }); })
        .then(function (rj) {
          if (rj[0].ok) { sessionStorage.setItem("parc-token", token); msg.textContent = "stop requested"; }
          else { sessionStorage.removeItem("parc-token"); msg.textContent = rj[1].error || "refused"; }
        }, function (err) { msg.textContent = String(err); });
    }}});
    return el("div", {cls: "controls"}, btn, msg);
  }

  function overview(id) {
    return api(runUrl(id)).then(function (s) {
      header(s); clear(main);
      add(main, el("h2", null, s.name, " ", badge(s.status)));
      add(main, progress(s));
      add(main, stopButton(s));
      add(main, el("p", {cls: "facts"},
        el("span", null, el("b", {text: "job"}), s.job_file || "n/a"),
        el("span", null, el("b", {text: "kind"}), s.kind || "n/a"),
        el("span", null, el("b", {text: "started"}), when(s.started)),
        el("span", null, el("b", {text: "ranks"}), na(s.ranks) ? "n/a" : String(s.ranks)),
        el("span", null, el("b", {text: "nodes"}), String(s.hosts || "n/a")),
        s.stopped ? el("span", null, el("b", {text: "stopped by"}), s.stopped) : null));
      if (s.best) {
        var est = s.best.method && !na(s.best.sd) ? " ± " + g3(s.best.sd) : "";
        add(main, el("h2", {text: (est ? "Best, an estimate (" : "Best so far (") + s.goal + ")"}));
        add(main, el("p", null, el("b", {text: g3(s.best.value) + est, title: g6(s.best.value)}), " at task " + s.best.task + ": ",
          Object.keys(s.best.params).map(function (k) { return k + " = " + g3(s.best.params[k]) + "  "; }).join("")));
        if (s.best.method) add(main, el("p", {cls: "muted", text: (est ? "estimated: " : "") + s.best.method +
          (na(s.best.sample) ? "" : "; the value told there first " + g3(s.best.sample))}));
      }
      if (s.job_summary) add(main, el("p", null, el("b", {text: "result: "}), s.job_summary));
      if (s.verdict) add(main, el("p", {cls: "verdict"}, el("b", {text: "What limited it: "}), s.verdict));
      else if (s.verdict_so_far) add(main, el("p", {cls: "verdict live", id: "verdict-so-far"},
        el("b", {text: "What limits it: "}), s.verdict_so_far));
      add(main, el("h2", {text: "Alerts"}));
      add(main, s.alerts.length ? el("ul", {cls: "alerts"}, s.alerts.map(function (a) {
        return el("li", {cls: "l" + a.level, text: a.text});
      })) : el("p", {cls: "muted", text: "none"}));
    });
  }

  function nodesPage(id) {
    return Promise.all([api(runUrl(id)), api(runUrl(id, "nodes")), api(runUrl(id, "activity"))]).then(function (all) {
      var s = all[0], j = all[1], act = all[2];
      header(s); clear(main);
      add(main, el("h2", {text: "Throughput over time"}), throughputChart(act));
      add(main, el("h2", {text: "Task stream"}), stream(act));
      add(main, el("h2", {text: "Nodes (" + j.nodes.length + ")"}));
      if (!j.nodes.length) { add(main, el("p", {cls: "muted", text: "No node has reported yet (the monitor samples every few seconds; --no-monitor runs have none)."})); return; }
      add(main, nodesTable(["node", "state", "CPU °C now / max", "firmware °C", "throttle now", "since start", "load / cores", "memory", "processes", "ping p50 / p99 µs", "up / down MB/s", "tasks", "busy", "last seen", "load (10 min)", "memory (10 min)", "CPU °C (10 min)"],
        j.nodes.map(function (n) {
          var c = n.colours, h = n.history;
          return el("tr", null, td(n.node), td(n.state, n.state),
            td(fix(n.cpu_temp_c, 1) + " / " + fix(n.cpu_temp_max_c, 1), c.cpu_temp),
            td(fix(n.gpu_temp_c, 1), c.gpu_temp),
            td(na(n.throttled_now) ? "n/a" : (n.throttled_now.join(", ") || "none"), c.throttle_now || "na"),
            td(n.throttled_since_start || "n/a", c.throttle_since || "na"),
            td(na(n.load1) ? "n/a" : n.load1.toFixed(2) + " / " + n.cores, c.load),
            td(fix(n.mem_percent, 0, "%"), c.memory), td(na(n.processes) ? "n/a" : String(n.processes)),
            td(fix(n.latency_p50_us, 1) + " / " + fix(n.latency_p99_us, 1)),
            td(fix(n.upload_mbps, 0) + " / " + fix(n.download_mbps, 0)),
            td(String(n.tasks)), td(fix(n.busy_pct, 0, "%")), td(s.status === "running" ? ago(n.last_seen, j.now) : clock(n.last_seen)),
            el("td", null, h.t.length > 1 ? spark(h.t, h.load_pct, 0, 200, 120, 28) : "n/a"),
            el("td", {cls: "mem"}, h.t.length > 1 ? spark(h.t, h.mem_percent, 0, 100, 120, 28) : "n/a"),
            el("td", null, h.t.length > 1 && h.cpu_temp_c.some(function (x) { return !na(x); }) ? spark(h.t, h.cpu_temp_c, 30, 90, 120, 28) : "n/a"));
        })));
      add(main, el("p", {cls: "muted", text: "Colours: the run's worst value (amber from 75 °C, 80% memory, 1.1x load; red from 80 °C, 90%, 1.5x). A node is stale after " + j.stale_after + " s without a sample."}));
    });
  }

  // a table cell: 3 significant digits shown, the full value as its tooltip; an
  // array as a small picture (2-D) or a sparkline (1-D)
  function num(v) {
    if (v && typeof v === "object" && v["$array"]) return el("td", {cls: "pic"}, picture(v, 2));
    var c = td(g3(v));
    if (typeof v === "number" && !Number.isInteger(v)) c.title = g6(v);
    return c;
  }
  var VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function colour(f) {  // 0..1 to a viridis-like colour; null as light grey
    if (na(f) || !isFinite(f)) return [235, 235, 235];
    f = Math.max(0, Math.min(1, f)) * (VIRIDIS.length - 1);
    var i = Math.min(VIRIDIS.length - 2, Math.floor(f)), t = f - i;
    return VIRIDIS[i].map(function (c, k) { return Math.round(c + t * (VIRIDIS[i + 1][k] - c)); });
  }
  function css(rgb) { return "rgb(" + rgb.join(",") + ")"; }
  // a grid of numbers (rows of columns) as a canvas, each cell px pixels
  function heatCanvas(grid, lo, hi, px) {
    var h = grid.length, w = h ? grid[0].length : 0;
    var c = el("canvas", {width: w * px, height: h * px, "class": "heat"});
    var g = c.getContext("2d");
    for (var i = 0; i < h; i++) for (var j = 0; j < w; j++) {
      var v = grid[i][j];
      g.fillStyle = css(colour(na(v) ? null : hi > lo ? (v - lo) / (hi - lo) : 0.5));
      g.fillRect(j * px, i * px, px, px);
    }
    return c;
  }
  function picture(a, px) {
    var label = el("div", {cls: "muted", text: a.dtype + " " + a.shape.join("×") + " [" + g3(a.min) + ", " + g3(a.max) + "]"});
    if (a.shape.length === 2) {
      var c = heatCanvas(a.data, a.min, a.max, px);
      c.setAttribute("data-shape", a.shape.join("x"));
      return el("div", null, c, label);
    }
    var ts = a.data.map(function (_, i) { return i; });
    return el("div", null, spark(ts, a.data, a.min, a.max, 120, 28), label);
  }

  function resultsBase(id) { return "#/run/" + encodeURIComponent(id) + "/results"; }
  function resultsPage(id) {
    var q = hq();
    var view = q.get("view") || "table";
    if (view !== "table") return plotsPage(id, q, view);
    var sort = q.get("sort") || "task", order = q.get("order") || "asc";
    var status = q.get("status") || "all", filter = q.get("filter") || "", page = +(q.get("page") || 0);
    var args = "sort=" + encodeURIComponent(sort) + "&order=" + order + "&status=" + status +
      "&filter=" + encodeURIComponent(filter);
    return Promise.all([api(runUrl(id)), api(runUrl(id, "table") + "?page=" + page + "&size=50&" + args)]).then(function (both) {
      var s = both[0], t = both[1];
      header(s);
      if (!changed([t, s.kind])) return;
      clear(main);
      add(main, viewTabs(id, q, "table"));
      var pages = Math.max(1, Math.ceil(t.total / t.size));
      function set(k, v) { var n = hq(); n.set(k, v); if (k !== "page") n.delete("page"); go(resultsBase(id), n); }
      var filterBox = el("input", {type: "text", id: "filter", size: 32, value: filter,
        placeholder: "e.g. alpha>0.5; node=pi2", on: {change: function (e) { set("filter", e.target.value); }}});
      var statusSel = el("select", {on: {change: function (e) { set("status", e.target.value); }}},
        ["all", "ok", "failed", "timeout", "killed"].map(function (x) {
          var o = el("option", {value: x, text: x}); if (x === status) o.selected = true; return o;
        }));
      add(main, el("div", {cls: "controls"}, "filter ", filterBox, " status ", statusSel,
        el("button", {text: "◀", on: {click: function () { if (page > 0) set("page", page - 1); }}}),
        "page " + (t.page + 1) + " of " + pages + " (" + t.total + " of " + t.tasks + " tasks)",
        el("button", {text: "▶", on: {click: function () { if (page + 1 < pages) set("page", page + 1); }}}),
        el("a", {href: runUrl(id, "table.csv") + "?" + args, id: "table-csv", text: "download this table (CSV)"}),
        el("a", {href: runUrl(id, "results.csv"), text: "results.csv"})));
      var cols = t.columns.filter(function (c) {
        return !(c.name === "value" && s.kind !== "optimize") && c.name !== "worker";
      });
      function head(c) {
        var mark = sort === c.name ? (order === "asc" ? " ▲" : " ▼") : "";
        var label = c.kind === "output" ? c.name.replace(/^result\./, "") : c.name;
        return el("th", {cls: "sort " + c.kind, "data-col": c.name, text: label + mark, title: c.name, on: {click: function () {
          var n = hq(); n.set("order", sort === c.name && order === "asc" ? "desc" : "asc");
          n.set("sort", c.name); n.delete("page"); go(resultsBase(id), n);
        }}});
      }
      var taskUrl = "#/run/" + encodeURIComponent(id) + "/task?task=";
      add(main, table(cols.map(head).concat([el("th", {text: "error"})]), t.rows.map(function (r) {
        return el("tr", null, cols.map(function (c) {
          switch (c.name) {
            case "task": return el("td", null, el("a", {href: taskUrl + r.task, text: String(r.task)}));
            case "status": return td(r.status, r.status === "ok" ? "" : "red");
            case "attempts": return td(String(r.attempt + 1));
            case "value": return num(r.value);
            case "seconds": return td(g3(r.seconds));
            case "node": return td(r.node || "n/a");
          }
          var src = c.kind === "input" ? r.inputs : r.outputs;
          var key = c.kind === "input" ? c.name : c.name;
          return key in src ? num(src[key]) : td("");
        }), td(r.error || ""));
      })));
    });
  }

  function viewTabs(id, q, on) {
    var views = [["table", "table"], ["plots", "plots"]];
    return el("div", {cls: "controls views"}, views.map(function (v) {
      var n = new URLSearchParams(q.toString()); n.set("view", v[0]);
      return v[0] === on ? el("b", {text: v[1]}) : el("a", {href: resultsBase(id) + "?" + n.toString(), text: v[1]});
    }));
  }

  function select(name, options, chosen, onchange) {
    return el("select", {name: name, on: {change: function (e) { onchange(e.target.value); }}},
      options.map(function (x) { var o = el("option", {value: x, text: x || "none"}); if (x === chosen) o.selected = true; return o; }));
  }

  // sweeps: each result against each parameter (coloured by another), a heat map of a
  // grid of two parameters, a histogram per result
  function plotsPage(id, q, view) {
    return Promise.all([api(runUrl(id)), api(runUrl(id, "views"))]).then(function (both) {
      var s = both[0], v = both[1];
      header(s);
      if (!changed([v, q.toString()])) return;
      clear(main);
      add(main, viewTabs(id, q, "plots"));
      if (!v.outputs.length || !v.rows) { add(main, el("p", {cls: "muted", text: "No numeric result to plot yet."})); return; }
      var W = Math.min(900, main.clientWidth - 20);
      function set(k, val) { var n = hq(); n.set(k, val); go(resultsBase(id), n); }
      var x = q.get("x") || v.inputs[0] || "task", y = q.get("y") || v.outputs[0];
      var cby = q.has("color") ? q.get("color") : (v.inputs[1] || "");
      add(main, el("h2", {text: "Each result against each parameter (" + v.sampled + " of " + v.rows + " successful tasks drawn)"}));
      add(main, el("div", {cls: "controls"}, "x ", select("x", v.inputs.concat(["task"]), x, function (val) { set("x", val); }),
        " y ", select("y", v.outputs, y, function (val) { set("y", val); }),
        " colour ", select("color", [""].concat(v.inputs), cby, function (val) { set("color", val); })));
      var xs = v.sample[x] || [], ys = v.sample[y] || [], cs = cby ? v.sample[cby] : null;
      var f = frame(W, 320, extent(xs), extent(ys), x, y.replace(/^result\./, ""));
      var cr = cs ? extent(cs) : null;
      f.root.setAttribute("id", "scatter");
      xs.forEach(function (xv, i) {
        if (na(xv) || na(ys[i])) return;
        var fill = cs ? css(colour((cs[i] - cr[0]) / (cr[1] - cr[0]))) : "#3b82c4";
        f.root.appendChild(svg("circle", {cx: f.x(xv).toFixed(1), cy: f.y(ys[i]).toFixed(1), r: 2.5, fill: fill, opacity: 0.8}));
      });
      var ln = v.lines[x];
      if (ln && ln.mean[y]) line(f, ln.x, ln.mean[y], "#c0392b", 2, 0.9);
      add(main, el("div", {cls: "chart"}, f.root));
      add(main, el("p", {cls: "muted", text: (ln ? "Red: the mean of " + y + " at each value of " + x + ", over every task. " : "") +
        (cs ? "Colour: " + cby + " from " + g3(cr[0]) + " (purple) to " + g3(cr[1]) + " (yellow)." : "")}));
      if (v.heat) {
        var hout = q.get("heat") || y;
        if (!v.heat.mean[hout]) hout = v.outputs[0];
        var grid = v.heat.mean[hout], flat = [].concat.apply([], grid);
        var hr = extent(flat.filter(function (z) { return !na(z); }));
        add(main, el("h2", {text: "Heat map: mean " + hout.replace(/^result\./, "") + " over " + v.heat.x + " (rows) and " + v.heat.y + " (columns)"}));
        add(main, el("div", {cls: "controls"}, "result ", select("heat", v.outputs, hout, function (val) { set("heat", val); })));
        var px = Math.max(4, Math.min(40, Math.floor(W / Math.max(grid[0].length, 1))));
        var hc = heatCanvas(grid, hr[0], hr[1], px);
        hc.id = "heatmap"; hc.setAttribute("data-rows", grid.length); hc.setAttribute("data-cols", grid[0].length);
        add(main, el("div", {cls: "chart"}, hc));
        add(main, el("p", {cls: "muted", text: v.heat.x + " " + g3(v.heat.x_levels[0]) + " … " + g3(v.heat.x_levels[v.heat.x_levels.length - 1]) +
          " top to bottom; " + v.heat.y + " " + g3(v.heat.y_levels[0]) + " … " + g3(v.heat.y_levels[v.heat.y_levels.length - 1]) +
          " left to right; colour " + g3(hr[0]) + " (purple) to " + g3(hr[1]) + " (yellow); grey: no task."}));
      }
      add(main, el("h2", {text: "Histograms (every successful task)"}));
      var hw = Math.min(420, W);
      add(main, el("div", {cls: "multiples"}, v.outputs.map(function (o) {
        var h = v.histograms[o];
        if (!h) return null;
        var top = Math.max.apply(null, h.counts);
        var hf = frame(hw, 200, [h.edges[0], h.edges[h.edges.length - 1]], [0, top * 1.05], o.replace(/^result\./, ""), "tasks");
        hf.root.setAttribute("class", "plot hist"); hf.root.setAttribute("data-col", o);
        h.counts.forEach(function (c, i) {
          var x0 = hf.x(h.edges[i]), x1 = hf.x(h.edges[i + 1]);
          hf.root.appendChild(svg("rect", {x: x0.toFixed(1), y: hf.y(c).toFixed(1), width: Math.max(0.5, x1 - x0 - 0.5).toFixed(1),
            height: (hf.y(0) - hf.y(c)).toFixed(1), fill: "#3b82c4", "data-count": c}));
        });
        return el("div", {cls: "chart"}, hf.root);
      })));
    });
  }

  function taskPage(id) {
    var task = hq().get("task") || "0";
    return Promise.all([api(runUrl(id)), api(runUrl(id, "task") + "?task=" + encodeURIComponent(task))]).then(function (both) {
      var s = both[0], d = both[1];
      header(s);
      if (!changed(d)) return;
      clear(main);
      add(main, el("h2", {text: "Task " + d.task + ": " + d.attempts.length + " attempt(s)"}));
      d.attempts.forEach(function (a) {
        add(main, el("h2", {text: "attempt " + (a.attempt + 1) + ": " + a.status + " on " + (a.node || "?") +
          " (rank " + a.worker + "), " + g3(a.seconds, "s")}));
        function kv(obj) {
          return table(["name", "value"], Object.keys(obj).map(function (k) {
            var v = obj[k];
            return el("tr", null, td(k), v && typeof v === "object" && v["$array"] ? el("td", {cls: "pic"}, picture(v, 4)) : num(v));
          }));
        }
        add(main, el("p", null, el("b", {text: "arguments"})), kv(a.inputs));
        if (a.status === "ok") add(main, el("p", null, el("b", {text: "result"})), kv(a.outputs));
        if (!na(a.value)) add(main, el("p", null, el("b", {text: "value "}), g6(a.value)));
        if (a.traceback) add(main, el("pre", {text: a.traceback}));
      });
    });
  }

  function optimizationPage(id) {
    return Promise.all([api(runUrl(id)), api(runUrl(id, "optimization")), api(runUrl(id, "explore")),
      api(runUrl(id, "activity"))]).then(function (all) {
      var s = all[0], o = all[1], x = all[2], act = all[3];
      header(s);
      if (!changed([o, x, act])) return;
      clear(main); charts.forEach(function (c) { c.destroy(); }); charts = [];
      if (o.kind !== "optimize") { add(main, el("p", {cls: "muted", text: "This run is a " + (o.kind || "?") + " job, not an optimization."})); return; }
      if (o.objectives && o.objectives.length > 1) {
        add(main, el("p", {text: o.evaluations + " evaluations of " + o.objectives.length + " objectives"}));
        optimizationExtra(o);
        return;
      }
      add(main, el("h2", {text: "Best so far against evaluations (" + o.goal + ", " + o.evaluations + " evaluations)"}));
      var box = el("div", {cls: "chart"});
      add(main, box);
      var bv = o.steps.best, logy = bv.length > 1 && bv.every(function (b) { return b > 0; }) &&
        Math.max.apply(null, bv) / Math.min.apply(null, bv) >= 100;
      box.setAttribute("data-log", logy ? "1" : "0");
      if (o.steps.evaluation.length && window.uPlot) {
        charts.push(new uPlot({width: Math.min(900, main.clientWidth - 20), height: 300,
          scales: {x: {time: false}, y: logy ? {distr: 3} : {}}, legend: {show: true},
          series: [{label: "evaluation"}, {label: "best", stroke: "#3b82c4", width: 2, paths: uPlot.paths.stepped({align: 1})}],
          axes: [{label: "evaluations"}, {label: "best value" + (logy ? " (log axis: it spans decades)" : ""), size: 70,
            values: function (u, vals) { return vals.map(function (v) {
              return na(v) || (logy && Math.abs(Math.log10(v) - Math.round(Math.log10(v))) > 1e-9) ? "" : g3(v); }); }}]},
          [o.steps.evaluation, o.steps.best], box));
      } else add(box, el("p", {cls: "muted", text: "no successful evaluation yet"}));
      optimizationExtra(o);
      explore(x, o.goal);
      add(main, el("h2", {text: "Evaluations per worker over time"}));
      add(main, stream(act));
      add(main, el("h2", {text: "Top " + o.top.length}));
      if (o.top.length) {
        var names = Object.keys(o.top[0].inputs);
        add(main, table(["#", "task"].concat(names).concat(["value", "node"]), o.top.map(function (r, i) {
          return el("tr", null, td(String(i + 1)), td(String(r.task)),
            names.map(function (k) { return num(r.inputs[k]); }), num(r.value), td(r.node || "n/a"));
        })));
      }
    });
  }

  // several objectives, constraints and progress curves: small SVG charts (no library)
  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function extent(vals) {
    var lo = Infinity, hi = -Infinity;
    vals.forEach(function (v) { if (!na(v) && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    if (lo === Infinity) return [0, 1];
    if (hi === lo) { lo -= 0.5; hi += 0.5; }
    var pad = 0.05 * (hi - lo);
    return [lo - pad, hi + pad];
  }
  // about n round numbers between lo and hi (1, 2 or 5 times a power of ten apart)
  function ticks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n))), err = (hi - lo) / n / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }
  function logTicks(lo, hi) {
    var out = [];
    for (var e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e++) out.push(Math.pow(10, e));
    return out.length ? out : [lo, hi];
  }
  // values spanning decades (all positive, the largest 100 times the smallest) get a log axis
  function spansDecades(vals) {
    var lo = Infinity, hi = -Infinity;
    for (var i = 0; i < vals.length; i++) { var v = vals[i]; if (na(v)) continue; if (v <= 0) return false; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    return hi / lo >= 100;
  }
  function logExtent(vals) {
    var lo = Infinity, hi = -Infinity;
    vals.forEach(function (v) { if (!na(v) && v > 0) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    return lo === Infinity ? [0.1, 1] : [lo / 1.2, hi * 1.2];
  }
  // a plot area with round-number ticks on both axes (the y axis log when asked):
  // {root, x(v), y(v)}
  function frame(w, h, xr, yr, xlabel, ylabel, opts) {
    opts = opts || {};
    var logy = opts.logy;
    var root = svg("svg", {width: w, height: h, "class": "plot", role: "img"});
    var L = 64, R = 10, T = 10, B = 34;
    function x(v) { return L + (v - xr[0]) / (xr[1] - xr[0]) * (w - L - R); }
    var ly = logy ? [Math.log10(yr[0]), Math.log10(yr[1])] : null;
    function y(v) {
      var f = logy ? (Math.log10(Math.max(v, 1e-300)) - ly[0]) / (ly[1] - ly[0]) : (v - yr[0]) / (yr[1] - yr[0]);
      return h - B - f * (h - T - B);
    }
    root.appendChild(svg("rect", {x: L, y: T, width: w - L - R, height: h - T - B, fill: "none", stroke: "#999"}));
    (opts.noxticks ? [] : ticks(xr[0], xr[1], Math.max(3, Math.floor((w - L - R) / 80)))).forEach(function (v) {
      var t = svg("text", {x: x(v), y: h - B + 14, "text-anchor": "middle", "font-size": 11, "class": "tick x"}); t.textContent = g3(v); root.appendChild(t);
      root.appendChild(svg("line", {x1: x(v), x2: x(v), y1: h - B, y2: h - B + 3, stroke: "#999"}));
    });
    (opts.noyticks ? [] : logy ? logTicks(yr[0], yr[1]) : ticks(yr[0], yr[1], Math.max(2, Math.floor((h - T - B) / 40)))).forEach(function (v) {
      var t = svg("text", {x: L - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 11, "class": "tick y"}); t.textContent = g3(v); root.appendChild(t);
      root.appendChild(svg("line", {x1: L, x2: w - R, y1: y(v), y2: y(v), stroke: "#eee"}));
    });
    var xl = svg("text", {x: (L + w - R) / 2, y: h - 4, "text-anchor": "middle", "font-size": 12}); xl.textContent = xlabel; root.appendChild(xl);
    var yl = svg("text", {x: 12, y: (T + h - B) / 2, "text-anchor": "middle", "font-size": 12,
      transform: "rotate(-90 12 " + (T + h - B) / 2 + ")"}); yl.textContent = ylabel + (logy ? " (log)" : ""); root.appendChild(yl);
    return {root: root, x: x, y: y};
  }
  function line(f, xs, ys, stroke, width, opacity) {
    var d = "";
    xs.forEach(function (v, i) { if (!na(ys[i])) d += (d ? "L" : "M") + f.x(v).toFixed(1) + " " + f.y(ys[i]).toFixed(1); });
    if (d) f.root.appendChild(svg("path", {d: d, fill: "none", stroke: stroke, "stroke-width": width, opacity: opacity}));
  }
  function optimizationExtra(o) {
    var W = Math.min(900, main.clientWidth - 20);
    if (o.constrained) add(main, el("p", {text: o.feasible + " of " + o.evaluations + " evaluations feasible" +
      (o.first_feasible ? "; the first at evaluation " + o.first_feasible : "; none yet")}));
    if (o.pruned) add(main, el("p", {text: o.pruned + " evaluation(s) stopped early by the pruner"}));
    if (o.objectives && o.objectives.length > 1) {
      var names = o.objectives, goal = o.goal;
      add(main, el("h2", {text: "Pareto front: " + (o.front_size || 0) + " point(s)" + (na(o.hypervolume) ? "" :
        ", hypervolume " + g3(o.hypervolume) + (o.hypervolume_exact ? "" : " (estimated)"))}));
      if (o.reference) add(main, el("p", {cls: "muted", text: "reference point " + names.map(function (n) {
        return n + " " + g3(o.reference[n]); }).join(", ") + " (" + o.reference_source + ")"}));
      var P = o.points, box = el("div", {cls: "chart front"});
      if (names.length === 2) {
        var fx = [], fy = [];
        P.values.forEach(function (v, i) { if (P.feasible[i]) { fx.push(v[0]); fy.push(v[1]); } });
        var f = frame(W, 320, extent(fx.length ? fx : P.values.map(function (v) { return v[0]; })),
          extent(fy.length ? fy : P.values.map(function (v) { return v[1]; })),
          names[0] + " (" + goal[names[0]] + ")", names[1] + " (" + goal[names[1]] + ")");
        P.values.forEach(function (v, i) {
          var cx = f.x(v[0]), cy = f.y(v[1]);
          if (!isFinite(cx) || !isFinite(cy) || cx < 0 || cx > W || cy < 0 || cy > 320) return;
          f.root.appendChild(svg("circle", {cx: cx.toFixed(1), cy: cy.toFixed(1), r: P.front[i] ? 4 : 2.5,
            fill: P.front[i] ? "#c0392b" : P.feasible[i] ? "#3b82c4" : "#bbb", "class": P.front[i] ? "on-front" : ""}));
        });
        add(box, f.root);
      } else {
        var cols = names.map(function (n, j) { return extent(P.values.filter(function (v, i) { return P.feasible[i]; }).map(function (v) { return v[j]; })); });
        var g = frame(W, 320, [0, names.length - 1], [0, 1], names.map(function (n) { return n + " (" + goal[n] + ")"; }).join("  |  "), "scaled");
        P.values.forEach(function (v, i) {
          if (!P.feasible[i]) return;
          line(g, names.map(function (n, j) { return j; }), v.map(function (x, j) { return (x - cols[j][0]) / (cols[j][1] - cols[j][0]); }),
            P.front[i] ? "#c0392b" : "#bbb", P.front[i] ? 1.5 : 0.7, P.front[i] ? 0.9 : 0.5);
        });
        add(box, g.root);
      }
      add(main, box);
      var h = o.hypervolume_history || [];
      if (h.length) {
        add(main, el("h2", {text: "Hypervolume against evaluations"}));
        var hb = el("div", {cls: "chart"});
        var hf = frame(W, 220, extent(h.map(function (p) { return p[0]; })), extent(h.map(function (p) { return p[1]; })), "evaluations", "hypervolume");
        line(hf, h.map(function (p) { return p[0]; }), h.map(function (p) { return p[1]; }), "#3b82c4", 2, 1);
        add(hb, hf.root); add(main, hb);
      }
      if (o.front && o.front.length) {
        var ins = Object.keys(o.front[0].inputs || {});
        add(main, el("h2", {text: "The front, by " + names[0] + (o.front_size > o.front.length ? " (first " + o.front.length + ")" : "")}));
        add(main, table(["task"].concat(ins).concat(names), o.front.map(function (p) {
          return el("tr", null, td(String(p.task)), ins.map(function (k) { return num(p.inputs[k]); }),
            names.map(function (n) { return num(p.values[n]); }));
        })));
      }
    }
    if (o.curves && o.curves.length) {
      var n = o.curves.filter(function (c) { return c.pruned; }).length;
      add(main, el("h2", {text: "Progress reported: " + (o.curves.length - n) + " completed, " + n + " stopped early (grey)"}));
      var steps = [], vals = [];
      o.curves.forEach(function (c) { steps = steps.concat(c.step); vals = vals.concat(c.value); });
      var cb = el("div", {cls: "chart"});
      var cf = frame(W, 260, extent(steps), extent(vals), "step", "value");
      o.curves.forEach(function (c) { if (!c.pruned) line(cf, c.step, c.value, "#3b82c4", 1, 0.6); });
      o.curves.forEach(function (c) { if (c.pruned) line(cf, c.step, c.value, "#777", 1, 0.9); });
      add(cb, cf.root); add(main, cb);
    }
  }

  // an optimization's evaluations: importance, slices, parallel coordinates, contour
  function explore(x, goal) {
    if (!x || !x.sample || !x.evaluated) return;
    var W = Math.min(900, main.clientWidth - 20), S = x.sample, P = S.params;
    var vlog = spansDecades(S.value), vr = vlog ? logExtent(S.value) : extent(S.value);
    function vcol(v) {  // the better, the darker (purple); worse, yellow
      var f = vlog ? (Math.log10(v) - Math.log10(vr[0])) / (Math.log10(vr[1]) - Math.log10(vr[0])) : (v - vr[0]) / (vr[1] - vr[0]);
      return css(colour(goal === "max" ? 1 - f : f));
    }
    if (x.importance && x.importance.length) {
      add(main, el("h2", {text: "Parameter importance"}));
      var imp = el("table", {id: "importance"}, el("tr", null, el("th", {text: "parameter"}), el("th", {text: "share"}), el("th")),
        x.importance.map(function (r) {
          return el("tr", {"data-name": r.name}, td(r.name), td(g3(100 * r.importance) + "%"), el("td", null, bar(r.importance, "imp")));
        }));
      add(main, imp, el("p", {cls: "muted", text: "Method: " + x.importance_method + "."}));
    }
    add(main, el("h2", {text: "Slices: the value against each parameter (" + x.sampled + " of " + x.evaluated + " evaluations; darker is better)"}));
    var sw = Math.min(300, W);
    add(main, el("div", {cls: "multiples", id: "slices"}, P.map(function (p) {
      var cats = p.categories;
      var f = frame(sw, 200, cats ? [-0.5, cats.length - 0.5] : extent(p.values), vr, p.name + (cats ? " (" + cats.join(", ") + ")" : ""), "value", {logy: vlog});
      f.root.setAttribute("data-name", p.name);
      p.values.forEach(function (pv, i) {
        if (na(pv) || na(S.value[i])) return;
        f.root.appendChild(svg("circle", {cx: f.x(pv).toFixed(1), cy: f.y(S.value[i]).toFixed(1), r: 2.5, fill: vcol(S.value[i]), opacity: 0.8}));
      });
      return el("div", {cls: "chart"}, f.root);
    })));
    if (P.length >= 2) {
      add(main, el("h2", {text: "Parallel coordinates (darker is better)"}));
      var axes = P.map(function (p) { return p.categories ? [-0.5, p.categories.length - 0.5] : extent(p.values); }).concat([vr]);
      var names = P.map(function (p) { return p.name; }).concat([vlog ? "value (log)" : "value"]);
      var g = frame(W, 300, [0, names.length - 1], [0, 1], names.join("  |  "), "each axis scaled to its range", {noxticks: true, noyticks: true});
      g.root.setAttribute("id", "parallel");
      var order = S.value.map(function (_, i) { return i; }).sort(function (a, b) {
        return goal === "max" ? S.value[a] - S.value[b] : S.value[b] - S.value[a]; });  // best drawn last, on top
      order.forEach(function (i) {
        if (na(S.value[i])) return;
        var ys = P.map(function (p, j) { return (p.values[i] - axes[j][0]) / (axes[j][1] - axes[j][0]); })
          .concat([vlog ? (Math.log10(S.value[i]) - Math.log10(vr[0])) / (Math.log10(vr[1]) - Math.log10(vr[0])) : (S.value[i] - vr[0]) / (vr[1] - vr[0])]);
        line(g, names.map(function (_, j) { return j; }), ys, vcol(S.value[i]), 1, 0.6);
      });
      names.forEach(function (n, j) {
        g.root.appendChild(svg("line", {x1: g.x(j), x2: g.x(j), y1: g.y(0), y2: g.y(1), stroke: "#555"}));
        var t = svg("text", {x: g.x(j), y: g.y(1) - 2, "text-anchor": j ? (j === names.length - 1 ? "end" : "middle") : "start", "font-size": 11});
        t.textContent = n + " " + g3(axes[j][0]) + "…" + g3(axes[j][1]); g.root.appendChild(t);
      });
      add(main, el("div", {cls: "chart"}, g.root));
    }
    if (x.contour) {
      var c = x.contour, flat = [].concat.apply([], c.z).filter(function (z) { return !na(z); });
      var zr = [Math.min.apply(null, flat), Math.max.apply(null, flat)], zlog = spansDecades(flat);
      function zt(z) { return na(z) ? null : zlog ? Math.log10(z) : z; }  // colour on a log scale when it spans decades
      add(main, el("h2", {text: "Contour: the value over " + c.x + " and " + c.y + " (the two most important)"}));
      var px = Math.floor(Math.min(W, 480) / c.x_grid.length);
      var rows = c.z.slice().reverse().map(function (r) { return r.map(function (z) { return na(z) ? null : goal === "max" ? -zt(z) : zt(z); }); });
      var cv = heatCanvas(rows, goal === "max" ? -zt(zr[1]) : zt(zr[0]), goal === "max" ? -zt(zr[0]) : zt(zr[1]), px);
      cv.id = "contour";
      var ctx = cv.getContext("2d"), xr = [c.x_grid[0], c.x_grid[c.x_grid.length - 1]], yr = [c.y_grid[0], c.y_grid[c.y_grid.length - 1]];
      ctx.fillStyle = "#fff"; ctx.strokeStyle = "#000";
      c.points.x.forEach(function (px_, i) {
        var cx = (px_ - xr[0]) / (xr[1] - xr[0]) * cv.width, cy = cv.height - (c.points.y[i] - yr[0]) / (yr[1] - yr[0]) * cv.height;
        ctx.beginPath(); ctx.arc(cx, cy, 2, 0, 6.3); ctx.fill(); ctx.stroke();
      });
      add(main, el("div", {cls: "chart"}, cv));
      add(main, el("p", {cls: "muted", text: c.x + " " + g3(xr[0]) + " … " + g3(xr[1]) + " left to right, " + c.y + " " + g3(yr[0]) + " … " + g3(yr[1]) +
        " bottom to top; value " + g3(zr[0]) + " … " + g3(zr[1]) + (zlog ? " on a log scale" : "") + " (darker is better); white dots: evaluations; " + c.method + "."}));
    }
  }

  // which worker ran what, when: one bar per task, or each worker's busy share per
  // time bin once there are many
  function stream(a) {
    if (!a || !a.stream) return el("p", {cls: "muted", text: "no task has ended yet"});
    var S = a.stream, W = Math.min(900, main.clientWidth - 20), lane = 16;
    var H = S.workers.length * lane + 44, span = Math.max(S.t1 - S.t0, 1e-3);
    var f = frame(W, H, [0, span], [0, S.workers.length], "seconds since the first task", "", {noyticks: true});
    f.root.setAttribute("id", "stream");
    S.workers.forEach(function (w, i) {
      var t = svg("text", {x: 62, y: f.y(i + 0.5) + 4, "text-anchor": "end", "font-size": 10, "class": "lane"});
      t.textContent = w.node + " r" + w.worker; f.root.appendChild(t);
    });
    if (S.bars) {
      f.root.setAttribute("data-bars", S.bars.length);
      S.bars.forEach(function (b) {
        var x0 = f.x(b[2]), x1 = f.x(b[3]);
        var r = svg("rect", {x: x0.toFixed(1), y: (f.y(b[0] + 1) + 1).toFixed(1), width: Math.max(1, x1 - x0).toFixed(1),
          height: (lane - 2), fill: b[4] ? "#3b82c4" : "#c0392b", "data-task": b[1]});
        var tt = svg("title"); tt.textContent = "task " + b[1] + ": " + g3(b[3] - b[2], "s"); r.appendChild(tt);
        f.root.appendChild(r);
      });
    } else {
      var e = S.density.edges;
      f.root.setAttribute("data-density", S.density.busy.length);
      S.density.busy.forEach(function (row, i) {
        row.forEach(function (v, k) {
          f.root.appendChild(svg("rect", {x: f.x(e[k]).toFixed(1), y: (f.y(i + 1) + 1).toFixed(1),
            width: Math.max(1, f.x(e[k + 1]) - f.x(e[k])).toFixed(1), height: lane - 2, fill: css(colour(v)), opacity: 0.9}));
        });
      });
    }
    return el("div", null, el("div", {cls: "chart"}, f.root), el("p", {cls: "muted", text: S.bars ? "One bar per attempt (red: failed); hover for its task." :
      a.attempts + " attempts: colour is each worker's busy share of each time bin, purple idle to yellow busy."}));
  }

  function throughputChart(a) {
    if (!a || !a.throughput) return el("p", {cls: "muted", text: "no task has ended yet"});
    var T = a.throughput, W = Math.min(900, main.clientWidth - 20);
    var xs = T.per_second.map(function (_, i) { return (i + 0.5) * T.width; });
    var f = frame(W, 200, [0, Math.max(xs.length * T.width, 1e-3)], [0, Math.max.apply(null, T.per_second.concat([1])) * 1.1],
      "seconds since the first task (bins of " + g3(T.width, "s") + ")", "tasks/s");
    f.root.setAttribute("id", "throughput");
    line(f, xs, T.per_second, "#3b82c4", 2, 1);
    return el("div", {cls: "chart"}, f.root);
  }

  function failuresPage(id) {
    return Promise.all([api(runUrl(id)), api(runUrl(id, "failures"))]).then(function (both) {
      var s = both[0], f = both[1];
      header(s); clear(main);
      add(main, el("h2", {text: "Failures: " + f.failed_tasks + " task(s), " + f.failed_attempts + " failed attempt(s)"}));
      if (!f.failures.length) { add(main, el("p", {cls: "muted", text: "none"})); return; }
      f.failures.forEach(function (r) {
        add(main, el("p", null, el("b", {text: "task " + r.task}), " attempt " + (r.attempt + 1) + " on " + (r.node || "?") +
          " (rank " + r.worker + "): " + r.status + "; input " + JSON.stringify(r.inputs)));
        add(main, el("pre", {text: r.traceback || r.error || ""}));
      });
      if (f.failed_tasks > f.failures.length) add(main, el("p", {cls: "muted", text: (f.failed_tasks - f.failures.length) + " more in run.sqlite"}));
    });
  }

  function networkPage(id) {
    return Promise.all([api(runUrl(id)), api(runUrl(id, "network"))]).then(function (both) {
      var s = both[0], n = both[1];
      header(s); clear(main);
      var loaded = Object.keys(n.loaded || {});
      if (loaded.length) add(main, el("p", {cls: "l1", id: "loaded", text: "Measured while busy: " + loaded.map(function (k) {
        return k + " (load " + n.loaded[k].load1 + " on " + n.loaded[k].cores + " cores)"; }).join(", ") +
        ". Its figures include waiting for a core, not only the wire; they are flagged ⚠ below."}));
      function flag(node) { return n.loaded && n.loaded[node] ? " ⚠" : ""; }
      add(main, el("h2", {text: "Node to node latency, p50 µs (p99)"}));
      if (n.pairs.length) {
        var names = [];
        n.pairs.forEach(function (p) { [p.a, p.b].forEach(function (x) { if (names.indexOf(x) < 0) names.push(x); }); });
        var at = {};
        n.pairs.forEach(function (p) { at[p.a + "\u0000" + p.b] = p; at[p.b + "\u0000" + p.a] = p; });
        add(main, table([""].concat(names), names.map(function (a) {
          return el("tr", null, el("th", {text: a}), names.map(function (b) {
            var p = at[a + "\u0000" + b];
            return td(a === b ? "-" : p ? g3(p.p50) + " (" + g3(p.p99) + ")" + flag(a) + flag(b) : "n/a");
          }));
        })));
      } else add(main, el("p", {cls: "muted", text: "no pair matrix (it needs the monitor and --netbench full, or several nodes)"}));
      add(main, el("h2", {text: "From the main node"}));
      if (!n.figures.length) { add(main, el("p", {cls: "muted", text: "no network benchmark in this run"})); return; }
      if (n.source) add(main, el("p", {cls: "muted netsource", text: n.source}));
      add(main, table(["node", "test", "bytes", "p50 µs", "p99 µs", "MB/s", "interface", "link Mbit/s"], n.figures.map(function (f) {
        return el("tr", null, td(f.node + flag(f.node)), td(f.kind), td(String(f.size)), td(g3(f.p50)), td(g3(f.p99)),
          td(g3(f.mbps)), td(f.nic || "n/a"), td(na(f.link_mbit) ? "n/a" : String(f.link_mbit)));
      })));
    });
  }

  var PAGES = {overview: overview, nodes: nodesPage, results: resultsPage, optimization: optimizationPage,
    failures: failuresPage, network: networkPage, task: taskPage};

  // -- kiosk: an 800x480 touchscreen ---------------------------------------
  function kioskPage() {
    document.body.classList.add("kiosk");
    var chosen = params.get("run");
    poll(function () {
      var pick = chosen ? Promise.resolve(chosen) : api("api/runs").then(function (j) {
        var running = j.runs.filter(function (r) { return r.status === "running"; });
        return (running[0] || j.runs[0] || {}).id;
      });
      return pick.then(function (id) {
        if (!id) { clear(main); add(main, el("p", {cls: "k-num", text: "no runs yet"})); return; }
        return Promise.all([api(runUrl(id)), api(runUrl(id, "nodes"))]).then(function (both) {
          var s = both[0], j = both[1];
          var frac = s.total ? s.done / s.total : (s.status === "finished" ? 1 : 0);  // starting: empty, not full
          clear(main);
          add(main, el("div", {cls: "k-head"}, el("span", {text: s.name}), badge(s.status)));
          add(main, bar(frac, "k-bar"));
          add(main, el("div", {cls: "k-row"},
            el("span", {cls: "k-num", text: s.done + (s.total ? " / " + s.total : "")}),
            el("span", {text: "ETA " + (s.status !== "running" ? "-" : na(s.eta_seconds) ? "measuring" : hms(s.eta_seconds))}),
            el("span", {text: g3(na(s.recent_tasks_per_second) ? s.tasks_per_second : s.recent_tasks_per_second, "tasks/s")}),
            el("span", {text: s.failed + " failed"}),
            s.best ? el("span", {text: "best " + g3(s.best.value)}) : null));
          add(main, el("div", {cls: "tiles"}, j.nodes.map(function (n) {
            return el("div", {cls: "tile " + n.state}, el("div", {cls: "n", text: n.node}),
              // what matters on a Pi: its temperature, else its load; never a large "n/a"
              el("div", {cls: "t", text: !na(n.cpu_temp_c) ? n.cpu_temp_c.toFixed(0) + " °C" :
                !na(n.load1) ? n.load1.toFixed(1) + " / " + n.cores : n.state}),
              el("div", {cls: "s", text: (na(n.cpu_temp_c) && !na(n.load1) ? "load / cores · " : "") + n.state +
                (na(n.cpu_temp_c) || na(n.load1) ? "" : " · load " + n.load1.toFixed(1)) +
                (n.throttled_now && n.throttled_now.length ? " · " + n.throttled_now.join(", ") : "")}));
          })));
        });
      }).catch(function (err) { showError(main, err); throw err; });
    });
  }

  // -- routing ----------------------------------------------------------------
  function route() {
    if (kiosk) return kioskPage();
    var m = location.hash.match(/^#\/run\/([^/]+)\/?([a-z]*)/);
    if (!m) return runsPage();
    var id = decodeURIComponent(m[1]), page = PAGES[m[2]] ? m[2] : "overview";
    tabs(id, page === "task" ? "results" : page);
    poll(function () {
      return PAGES[page](id).catch(function (err) { showError(main, err); throw err; });
    });
  }
  window.addEventListener("hashchange", function () { route(); });
  route();
})();
