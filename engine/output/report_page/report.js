// The run report's timeline: one lane per host, one bar per step from its start to its
// end event, overlapping steps of a host stacked in rows. Draws into #timeline from the
// JSON in #play-run-data (written by engine/output/report.py); no network, no library.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var LABEL_WIDTH = 150, ROW = 22, LANE_GAP = 10, AXIS = 26, RIGHT = 20;

  function element(name, attributes, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function tickStep(total) {
    // a round step (1, 2 or 5 times a power of ten) giving about 8 ticks
    var raw = Math.max(total, 0.001) / 8, power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * power; })
      .find(function (s) { return s >= raw; });
    return step;
  }

  function formatSeconds(seconds) {
    if (seconds >= 60) {
      var minutes = Math.floor(seconds / 60), rest = seconds - minutes * 60;
      return minutes + "m" + (rest ? (rest < 10 ? "0" : "") + rest.toFixed(0) + "s" : "");
    }
    return (seconds < 10 && seconds % 1 ? seconds.toFixed(2).replace(/0$/, "") : seconds.toFixed(0)) + "s";
  }

  function packRows(spans) {
    // greedy interval packing: a span goes into the first row free at its start
    var rowEnds = [];
    spans.forEach(function (span) {
      var row = rowEnds.findIndex(function (end) { return end <= span.start; });
      if (row < 0) { row = rowEnds.length; rowEnds.push(0); }
      rowEnds[row] = span.end;
      span.row = row;
    });
    return Math.max(rowEnds.length, 1);
  }

  function draw(run, container) {
    var width = Math.max(container.clientWidth || 0, 900);
    var total = Math.max(run.end, 0.001), plotWidth = width - LABEL_WIDTH - RIGHT;
    var x = function (seconds) { return LABEL_WIDTH + seconds / total * plotWidth; };
    var lanes = run.hosts.map(function (host) {
      var spans = run.spans.filter(function (span) { return span.host === host; })
        .sort(function (a, b) { return a.start - b.start || a.end - b.end; });
      return { host: host, spans: spans, rows: packRows(spans) };
    });
    var height = AXIS + lanes.reduce(function (sum, lane) {
      return sum + lane.rows * ROW + LANE_GAP; }, 0) + 4;
    var svg = element("svg", { width: width, height: height, role: "img",
      viewBox: "0 0 " + width + " " + height, "aria-label": "timeline of every step by host" });
    var step = tickStep(total);
    for (var tick = 0; tick <= total + 1e-9; tick += step) {
      element("line", { x1: x(tick), x2: x(tick), y1: AXIS - 6, y2: height, "class": "tick" }, svg);
      element("text", { x: x(tick), y: AXIS - 10, "class": "tick-label" }, svg)
        .textContent = formatSeconds(tick);
    }
    var top = AXIS, index = 0;
    lanes.forEach(function (lane, number) {
      var group = element("g", { "class": "lane", "data-host": lane.host }, svg);
      var laneHeight = lane.rows * ROW;
      element("rect", { x: 0, y: top - 2, width: width, height: laneHeight + 4,
        "class": number % 2 ? "lane-band odd" : "lane-band" }, group);
      var label = element("text", { x: 8, y: top + Math.min(laneHeight, ROW) / 2 + 4,
        "class": "host-label" }, group);
      label.textContent = lane.host;
      lane.spans.forEach(function (span) {
        var left = x(span.start), barWidth = Math.max(x(span.end) - left, 2);
        var bar = element("g", { "class": "bar status-" + span.status, id: "bar-" + index++,
          "data-host": span.host, "data-step": span.step, "data-play": span.play }, group);
        element("rect", { x: left, y: top + span.row * ROW, width: barWidth, height: ROW - 4,
          rx: 3 }, bar);
        element("title", {}, bar).textContent = span.step + " [" + span.play + "] on " +
          span.host + ": " + span.status + ", " + span.duration.toFixed(2) + " s" +
          (span.msg ? "\n" + span.msg : "");
        var text = element("text", { x: left + 4, y: top + span.row * ROW + ROW / 2 + 1,
          "class": "bar-label" }, bar);
        text.textContent = span.step;
        var textWidth = span.step.length * 6.2 + 8;
        if (textWidth > barWidth) {
          // too narrow for its name: the name goes beside the bar, dimmed (left of it
          // when the right edge is too close)
          var isRoom = left + barWidth + textWidth < width;
          text.setAttribute("x", isRoom ? left + barWidth + 3 : left - 3);
          text.setAttribute("text-anchor", isRoom ? "start" : "end");
          text.setAttribute("class", "bar-label outside");
        }
      });
      top += laneHeight + LANE_GAP;
    });
    container.textContent = "";
    container.appendChild(svg);
    container.setAttribute("data-rendered", "yes");
    container.setAttribute("data-bars", String(index));
  }

  var data = document.getElementById("play-run-data");
  var container = document.getElementById("timeline");
  if (data && container) { draw(JSON.parse(data.textContent), container); }
}());
