// Dashboard charts. Each chart is drawn from the accessible table behind it (data-value
// attributes hold the unrounded numbers), so the chart and the table can never disagree.
// No inline script or style anywhere: the page runs under a strict Content-Security-Policy.
"use strict";

(function () {
  var COLOURS = {
    actual: "#1f5fbf",
    target: "#16794c",
    benchmark: "#8a5cd1",
    cumulative: "#d9822b",
    vital: "#b42318",
    bar: "#1f5fbf",
    groups: ["#16794c", "#9aa3b2", "#b42318"]
  };

  function number(cell) {
    var raw = cell ? cell.getAttribute("data-value") : null;
    if (raw === null || raw === "") { return null; }
    var value = parseFloat(raw);
    return isNaN(value) ? null : value;
  }

  function readTable(table) {
    var headers = Array.prototype.slice.call(table.querySelectorAll("thead th"));
    var series = [];
    headers.forEach(function (th, index) {
      var key = th.getAttribute("data-series");
      if (key) {
        series.push({
          key: key, index: index, label: th.textContent.trim(),
          type: th.getAttribute("data-type") || "line",
          axis: th.getAttribute("data-axis") || "value"
        });
      }
    });
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    return {
      labels: rows.map(function (row) { return row.cells[0].textContent.trim(); }),
      highlight: rows.map(function (row) { return row.getAttribute("data-highlight") === "1"; }),
      series: series.map(function (item) {
        item.values = rows.map(function (row) { return number(row.cells[item.index]); });
        return item;
      })
    };
  }

  function lineDataset(item) {
    var colour = COLOURS[item.key] || COLOURS.actual;
    var dataset = {
      type: "line", label: item.label, data: item.values, borderColor: colour,
      backgroundColor: colour, spanGaps: false, tension: 0, pointRadius: 3
    };
    if (item.key === "target") { dataset.borderDash = [6, 4]; dataset.stepped = "middle"; dataset.pointRadius = 0; }
    if (item.key === "benchmark") { dataset.borderDash = [2, 3]; dataset.pointRadius = 0; }
    return dataset;
  }

  function build(table) {
    var canvas = document.getElementById(table.getAttribute("data-canvas"));
    if (!canvas || typeof window.Chart === "undefined") { return; }
    var kind = table.getAttribute("data-chart");
    var data = readTable(table);
    var options = {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      scales: {}
    };
    var datasets;
    var type = "bar";
    if (kind === "line") {
      type = "line";
      // a target or benchmark line without any value (no target set) is left out
      datasets = data.series.filter(function (item) {
        return item.key === "actual" || item.values.some(function (value) { return value !== null; });
      }).map(lineDataset);
    } else if (kind === "doughnut") {
      type = "doughnut";
      datasets = [{ data: data.series[0].values, backgroundColor: COLOURS.groups }];
      delete options.scales;
    } else if (kind === "pareto") {
      datasets = data.series.map(function (item) {
        if (item.type === "line") {
          // order: lower is drawn later, so the cumulative line stays on top of the bars.
          return { type: "line", label: item.label, data: item.values, borderColor: COLOURS.cumulative,
                   backgroundColor: COLOURS.cumulative, yAxisID: "percent", tension: 0, order: 0 };
        }
        return { type: "bar", label: item.label, data: item.values, yAxisID: "y", order: 2,
                 backgroundColor: data.highlight.map(function (vital) { return vital ? COLOURS.vital : COLOURS.bar; }) };
      });
      datasets.push({ type: "line", label: "80%", data: data.labels.map(function () { return 80; }),
                      borderColor: "#5b6475", borderDash: [4, 4], pointRadius: 0, yAxisID: "percent",
                      order: 1 });
      options.scales = { y: { beginAtZero: true, position: "left" },
                         percent: { min: 0, max: 100, position: "right", grid: { drawOnChartArea: false } } };
    } else {
      datasets = data.series.map(function (item) {
        return { type: "bar", label: item.label, data: item.values, backgroundColor: COLOURS.bar };
      });
      if (kind === "hbar") { options.indexAxis = "y"; options.scales = { x: { min: 0, max: 100 } }; }
      else if (data.series.length && data.series[0].axis === "percent") { options.scales = { y: { min: 0, max: 100 } }; }
      options.plugins.legend.display = false;
    }
    new window.Chart(canvas, { type: type, data: { labels: data.labels, datasets: datasets }, options: options });
    canvas.setAttribute("data-chart-ready", "1");
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.chart-data"), build);
  });
})();
