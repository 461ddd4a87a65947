// ECharts (vendored, loaded by index.html as the global `echarts`) behind three small helpers.
// Every chart made here is disposed when the page changes, and follows its container's size.

const live = new Set();

function make(el, option) {
  const chart = window.echarts.init(el, null, { renderer: "canvas" });
  chart.setOption({ animation: false, grid: { left: 48, right: 16, top: 32, bottom: 32 }, ...option });
  const observer = new ResizeObserver(() => chart.resize());
  observer.observe(el);
  live.add({ chart, observer });
  return chart;
}

const timeAxis = { type: "time", axisLabel: { hideOverlap: true } };

/**
 * A time-series line chart: series = [{name, points: [[ms, value], ...]}], marks = [{at: ms, label}].
 */
export function lineChart(el, { series, yName = "", marks = [], yMin } = {}) {
  return make(el, {
    tooltip: { trigger: "axis" },
    legend: { show: series.length > 1, top: 0 },
    xAxis: timeAxis,
    yAxis: { type: "value", name: yName, scale: true, min: yMin },
    series: series.map((s, i) => ({
      name: s.name, type: "line", showSymbol: false, data: s.points, sampling: "lttb",
      markLine: i === 0 && marks.length ? {
        symbol: "none", label: { formatter: (p) => p.name }, lineStyle: { color: "#c62828" },
        data: marks.map((m) => ({ name: m.label, xAxis: m.at })),
      } : undefined,
    })),
  });
}

/** A bar chart over categories: bars = [{name, values}] (one bar per category per entry). */
export function barChart(el, { categories, bars, yName = "" }) {
  return make(el, {
    tooltip: { trigger: "axis" },
    legend: { show: bars.length > 1, top: 0 },
    xAxis: { type: "category", data: categories },
    yAxis: { type: "value", name: yName, minInterval: 1 },
    series: bars.map((b) => ({ name: b.name, type: "bar", data: b.values, itemStyle: b.color ? { color: b.color } : {} })),
  });
}

/** Dispose every chart (called by the router before a new page renders). */
export function disposeCharts() {
  for (const { chart, observer } of live) {
    observer.disconnect();
    chart.dispose();
  }
  live.clear();
}
