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
  function add(parent, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(parent, c); }); return; }
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
        add(main, table(["run", "status", "job", "kind", "started", "duration", "tasks"],
          j.runs.map(function (r) {
            var link = el("a", {href: "#/run/" + encodeURIComponent(r.id) + "/overview", text: r.name || r.id});
            return el("tr", null, el("td", null, link, r.error ? el("div", {cls: "error", text: r.error}) : null),
              el("td", null, badge(r.status)), td(r.job_file || ""), td(r.kind || ""),
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
        el("span", null, el("b", {text: "throughput"}), na(s.tasks_per_second) ? "n/a" : g6(s.tasks_per_second) + " tasks/s"),
        s.status === "running" ? el("span", null, el("b", {text: "last 30 s"}), na(s.recent_tasks_per_second) ? "n/a" : g6(s.recent_tasks_per_second) + " tasks/s") : null,
        el("span", null, el("b", {text: "ETA"}), s.status === "running" ? hms(s.eta_seconds) : "-"),
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
        var est = s.best.method && !na(s.best.sd) ? " ± " + g6(s.best.sd) : "";
        add(main, el("h2", {text: (est ? "Best, an estimate (" : "Best so far (") + s.goal + ")"}));
        add(main, el("p", null, el("b", {text: g6(s.best.value) + est}), " at task " + s.best.task + ": ",
          Object.keys(s.best.params).map(function (k) { return k + " = " + g6(s.best.params[k]) + "  "; }).join("")));
        if (s.best.method) add(main, el("p", {cls: "muted", text: (est ? "estimated: " : "") + s.best.method +
          (na(s.best.sample) ? "" : "; the value told there first " + g6(s.best.sample))}));
      }
      if (s.job_summary) add(main, el("p", null, el("b", {text: "result: "}), s.job_summary));
      if (s.verdict) add(main, el("p", {cls: "verdict"}, el("b", {text: "What limited it: "}), s.verdict));
      add(main, el("h2", {text: "Alerts"}));
      add(main, s.alerts.length ? el("ul", {cls: "alerts"}, s.alerts.map(function (a) {
        return el("li", {cls: "l" + a.level, text: a.text});
      })) : el("p", {cls: "muted", text: "none"}));
    });
  }

  function nodesPage(id) {
    return Promise.all([api(runUrl(id)), api(runUrl(id, "nodes"))]).then(function (both) {
      var s = both[0], j = both[1];
      header(s); clear(main);
      add(main, el("h2", {text: "Nodes (" + j.nodes.length + ")"}));
      if (!j.nodes.length) { add(main, el("p", {cls: "muted", text: "No node has reported yet (the monitor samples every few seconds; --no-monitor runs have none)."})); return; }
      add(main, nodesTable(["node", "state", "CPU °C now / max", "firmware °C", "throttle now", "since start", "load / cores", "memory", "processes", "ping p50 / p99 µs", "up / down MB/s", "tasks", "busy", "last seen", "load (10 min)", "CPU °C (10 min)"],
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
            el("td", null, h.t.length > 1 && h.cpu_temp_c.some(function (x) { return !na(x); }) ? spark(h.t, h.cpu_temp_c, 30, 90, 120, 28) : "n/a"));
        })));
      add(main, el("p", {cls: "muted", text: "Colours: the run's worst value (amber from 75 °C, 80% memory, 1.1x load; red from 80 °C, 90%, 1.5x). A node is stale after " + j.stale_after + " s without a sample."}));
    });
  }

  var tableState = {page: 0, sort: "task", order: "asc", status: "all"};
  function resultsPage(id) {
    var q = "?page=" + tableState.page + "&size=50&sort=" + tableState.sort + "&order=" + tableState.order + "&status=" + tableState.status;
    return Promise.all([api(runUrl(id)), api(runUrl(id, "table") + q)]).then(function (both) {
      var s = both[0], t = both[1];
      header(s);
      if (!changed([t, s.kind])) return;
      clear(main);
      var pages = Math.max(1, Math.ceil(t.total / t.size));
      var filter = el("select", {on: {change: function (e) { tableState.status = e.target.value; tableState.page = 0; route(); }}},
        ["all", "ok", "failed", "timeout", "killed"].map(function (x) {
          var o = el("option", {value: x, text: x}); if (x === tableState.status) o.selected = true; return o;
        }));
      add(main, el("div", {cls: "controls"}, "status ", filter,
        el("button", {text: "◀", on: {click: function () { if (tableState.page > 0) { tableState.page--; route(); } }}}),
        "page " + (t.page + 1) + " of " + pages + " (" + t.total + " tasks)",
        el("button", {text: "▶", on: {click: function () { if (tableState.page + 1 < pages) { tableState.page++; route(); } }}}),
        el("a", {href: runUrl(id, "results.csv"), text: "download CSV"})));
      var ins = [], outs = [];
      t.rows.forEach(function (r) {
        Object.keys(r.inputs).forEach(function (k) { if (ins.indexOf(k) < 0) ins.push(k); });
        Object.keys(r.outputs).forEach(function (k) { if (outs.indexOf(k) < 0) outs.push(k); });
      });
      function sortable(name, key) {
        var mark = tableState.sort === key ? (tableState.order === "asc" ? " ▲" : " ▼") : "";
        return el("th", {cls: "sort", text: name + mark, on: {click: function () {
          tableState.order = tableState.sort === key && tableState.order === "asc" ? "desc" : "asc";
          tableState.sort = key; tableState.page = 0; route();
        }}});
      }
      var head = [sortable("task", "task"), sortable("status", "status"), sortable("attempts", "attempt")]
        .concat(ins.map(function (k) { return el("th", {text: k}); }))
        .concat(outs.map(function (k) { return el("th", {text: k}); }))
        .concat(s.kind === "optimize" ? [sortable("value", "value")] : [])
        .concat([sortable("seconds", "seconds"), sortable("node", "node"), el("th", {text: "error"})]);
      add(main, table(head, t.rows.map(function (r) {
        return el("tr", null, td(String(r.task)), td(r.status, r.status === "ok" ? "" : "red"), td(String(r.attempt + 1)),
          ins.map(function (k) { return td(k in r.inputs ? g6(r.inputs[k]) : ""); }),
          outs.map(function (k) { return td(k in r.outputs ? g6(r.outputs[k]) : ""); }),
          s.kind === "optimize" ? td(g6(r.value)) : null,
          td(fix(r.seconds, 3)), td(r.node || "n/a"), td(r.error || ""));
      })));
    });
  }

  function optimizationPage(id) {
    return Promise.all([api(runUrl(id)), api(runUrl(id, "optimization"))]).then(function (both) {
      var s = both[0], o = both[1];
      header(s);
      if (!changed(o)) return;
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
      if (o.steps.evaluation.length && window.uPlot) {
        charts.push(new uPlot({width: Math.min(900, main.clientWidth - 20), height: 300,
          scales: {x: {time: false}}, legend: {show: true},
          series: [{label: "evaluation"}, {label: "best", stroke: "#3b82c4", width: 2, paths: uPlot.paths.stepped({align: 1})}],
          axes: [{label: "evaluations"}, {label: "best value", size: 70}]},
          [o.steps.evaluation, o.steps.best], box));
      } else add(box, el("p", {cls: "muted", text: "no successful evaluation yet"}));
      optimizationExtra(o);
      add(main, el("h2", {text: "Top " + o.top.length}));
      if (o.top.length) {
        var names = Object.keys(o.top[0].inputs);
        add(main, table(["#", "task"].concat(names).concat(["value", "node"]), o.top.map(function (r, i) {
          return el("tr", null, td(String(i + 1)), td(String(r.task)),
            names.map(function (k) { return td(g6(r.inputs[k])); }), td(g6(r.value)), td(r.node || "n/a"));
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
  // a plot area with axes labelled at both ends: {root, x(v), y(v)}
  function frame(w, h, xr, yr, xlabel, ylabel) {
    var root = svg("svg", {width: w, height: h, "class": "plot", role: "img"});
    var L = 64, R = 10, T = 10, B = 34;
    function x(v) { return L + (v - xr[0]) / (xr[1] - xr[0]) * (w - L - R); }
    function y(v) { return h - B - (v - yr[0]) / (yr[1] - yr[0]) * (h - T - B); }
    root.appendChild(svg("rect", {x: L, y: T, width: w - L - R, height: h - T - B, fill: "none", stroke: "#999"}));
    [[xr[0], "start"], [xr[1], "end"]].forEach(function (p) {
      var t = svg("text", {x: x(p[0]), y: h - B + 14, "text-anchor": p[1], "font-size": 11}); t.textContent = g6(p[0]); root.appendChild(t);
    });
    [yr[0], yr[1]].forEach(function (v) {
      var t = svg("text", {x: L - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 11}); t.textContent = g6(v); root.appendChild(t);
    });
    var xl = svg("text", {x: (L + w - R) / 2, y: h - 4, "text-anchor": "middle", "font-size": 12}); xl.textContent = xlabel; root.appendChild(xl);
    var yl = svg("text", {x: 12, y: (T + h - B) / 2, "text-anchor": "middle", "font-size": 12,
      transform: "rotate(-90 12 " + (T + h - B) / 2 + ")"}); yl.textContent = ylabel; root.appendChild(yl);
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
        ", hypervolume " + g6(o.hypervolume) + (o.hypervolume_exact ? "" : " (estimated)"))}));
      if (o.reference) add(main, el("p", {cls: "muted", text: "reference point " + names.map(function (n) {
        return n + " " + g6(o.reference[n]); }).join(", ") + " (" + o.reference_source + ")"}));
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
          return el("tr", null, td(String(p.task)), ins.map(function (k) { return td(g6(p.inputs[k])); }),
            names.map(function (n) { return td(g6(p.values[n])); }));
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
      add(main, el("h2", {text: "Node to node latency, p50 µs (p99)"}));
      if (n.pairs.length) {
        var names = [];
        n.pairs.forEach(function (p) { [p.a, p.b].forEach(function (x) { if (names.indexOf(x) < 0) names.push(x); }); });
        var at = {};
        n.pairs.forEach(function (p) { at[p.a + "\u0000" + p.b] = p; at[p.b + "\u0000" + p.a] = p; });
        add(main, table([""].concat(names), names.map(function (a) {
          return el("tr", null, el("th", {text: a}), names.map(function (b) {
            var p = at[a + "\u0000" + b];
            return td(a === b ? "-" : p ? fix(p.p50, 0) + " (" + fix(p.p99, 0) + ")" : "n/a");
          }));
        })));
      } else add(main, el("p", {cls: "muted", text: "no pair matrix (it needs the monitor and --netbench full, or several nodes)"}));
      add(main, el("h2", {text: "From the main node"}));
      if (!n.figures.length) { add(main, el("p", {cls: "muted", text: "no network benchmark in this run"})); return; }
      if (n.source) add(main, el("p", {cls: "muted netsource", text: n.source}));
      add(main, table(["node", "test", "bytes", "p50 µs", "p99 µs", "MB/s", "interface", "link Mbit/s"], n.figures.map(function (f) {
        return el("tr", null, td(f.node), td(f.kind), td(String(f.size)), td(fix(f.p50, 1)), td(fix(f.p99, 1)),
          td(fix(f.mbps, 1)), td(f.nic || "n/a"), td(na(f.link_mbit) ? "n/a" : String(f.link_mbit)));
      })));
    });
  }

  var PAGES = {overview: overview, nodes: nodesPage, results: resultsPage, optimization: optimizationPage,
    failures: failuresPage, network: networkPage};

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
            el("span", {text: "ETA " + (s.status === "running" ? hms(s.eta_seconds) : "-")}),
            el("span", {text: (na(s.recent_tasks_per_second) ? g6(s.tasks_per_second) : g6(s.recent_tasks_per_second)) + " tasks/s"}),
            el("span", {text: s.failed + " failed"}),
            s.best ? el("span", {text: "best " + g6(s.best.value)}) : null));
          add(main, el("div", {cls: "tiles"}, j.nodes.map(function (n) {
            return el("div", {cls: "tile " + n.state}, el("div", {cls: "n", text: n.node}),
              el("div", {cls: "t", text: na(n.cpu_temp_c) ? "n/a" : n.cpu_temp_c.toFixed(0) + " °C"}),
              el("div", {cls: "s", text: n.state + (na(n.load1) ? "" : " · load " + n.load1.toFixed(1))}));
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
    tabs(id, page);
    poll(function () {
      return PAGES[page](id).catch(function (err) { showError(main, err); throw err; });
    });
  }
  window.addEventListener("hashchange", function () { tableState.page = 0; route(); });
  route();
})();
