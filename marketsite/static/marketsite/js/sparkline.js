// A small line of recent prices, as an SVG path: [[timeMs, price], ...] over a fixed time span
// ending now, so sparse data shows as a short line on the right rather than being stretched.

const NS = "http://www.w3.org/2000/svg";
export const SPARK_W = 96;
export const SPARK_H = 26;

export function drawSparkline(svg, points, { spanMs, endMs, direction = "flat" }) {
  let path = svg.querySelector("path");
  if (!path) {
    svg.setAttribute("viewBox", `0 0 ${SPARK_W} ${SPARK_H}`);
    svg.setAttribute("preserveAspectRatio", "none");
    path = document.createElementNS(NS, "path");
    path.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(path);
  }
  svg.dataset.points = String(points.length);
  svg.setAttribute("class", `spark ${direction}`);
  if (points.length < 2) {
    path.setAttribute("d", "");
    return;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const [, p] of points) {
    lo = Math.min(lo, p);
    hi = Math.max(hi, p);
  }
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  const startMs = endMs - spanMs;
  const x = (t) => Math.max(0, ((t - startMs) / spanMs) * (SPARK_W - 2)) + 1;
  const y = (p) => SPARK_H - 2 - ((p - lo) / (hi - lo)) * (SPARK_H - 4);
  path.setAttribute("d", points
    .map(([t, p], i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(p).toFixed(1)}`)
    .join(""));
}
