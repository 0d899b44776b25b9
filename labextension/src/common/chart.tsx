/**
 * Charts through Vega-Lite (vega-embed, the library behind JupyterLab's own Vega renderer):
 * axes with titles, hover values (tooltips), SVG output, colours from the JupyterLab theme.
 * vega-embed is loaded on first use (its own chunk), so pages without a chart do not pay.
 *
 *   <VegaLiteChart label="auc across versions" spec={{ mark: 'line', data: {values}, ... }} />
 */

import * as React from 'react';

import { ErrorBanner } from './errorBanner';

/** A Vega-Lite spec (kept loose here: vega-lite's own types are large). */
export type VegaLiteSpec = { [key: string]: unknown };

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** Vega config from the current JupyterLab theme (light or dark). */
export function themeConfig(): { [key: string]: unknown } {
  const text = cssVar('--jp-ui-font-color1', '#212121');
  const muted = cssVar('--jp-ui-font-color2', '#616161');
  const grid = cssVar('--jp-border-color2', '#e0e0e0');
  const font = cssVar('--jp-ui-font-family', 'sans-serif');
  return {
    background: null,
    font,
    axis: {
      labelColor: text,
      titleColor: text,
      domainColor: muted,
      tickColor: muted,
      gridColor: grid,
      labelFontSize: 12,
      titleFontSize: 12
    },
    legend: { labelColor: text, titleColor: text, labelFontSize: 12 },
    title: { color: text, fontSize: 13 },
    view: { stroke: null },
    line: { color: cssVar('--jp-brand-color1', '#1976d2'), strokeWidth: 2 },
    point: { color: cssVar('--jp-brand-color1', '#1976d2'), size: 60, filled: true }
  };
}

/**
 * A y scale for metric values: the data's range with a margin, kept inside [0, 1] when
 * every value is (no accuracy axis up to 1.05).
 */
export function metricDomain(values: number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || Math.abs(hi) * 0.1 || 1;
  let domain: [number, number] = [lo - span * 0.15, hi + span * 0.15];
  if (lo >= 0 && hi <= 1) {
    domain = [Math.max(0, domain[0]), Math.min(1, domain[1])];
  }
  return domain;
}

export function VegaLiteChart(p: {
  spec: VegaLiteSpec;
  /** The accessible name, e.g. `auc across versions`. */
  label: string;
  /** `data-*` attributes (e.g. the plotted values, for tests). */
  data?: { [name: string]: string };
  width?: number;
  height?: number;
}): JSX.Element {
  const node = React.useRef<HTMLDivElement>(null);
  const [error, setError] = React.useState<Error | null>(null);
  const specText = JSON.stringify(p.spec);
  React.useEffect(() => {
    let finalize: (() => void) | undefined;
    let cancelled = false;
    void import('vega-embed')
      .then(async module => {
        if (cancelled || !node.current) {
          return;
        }
        const embed = module.default;
        const result = await embed(
          node.current,
          {
            $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
            // the plot area: the figure's width less room for the y axis (at least 240 px)
            width: p.width ?? Math.max(240, Math.min(640, node.current.clientWidth || 480) - 80),
            height: p.height ?? 220,
            config: themeConfig(),
            ...(JSON.parse(specText) as object)
          } as never,
          { renderer: 'svg', actions: false, tooltip: true, ast: false }
        );
        finalize = () => result.finalize();
        if (cancelled) {
          finalize();
        }
      })
      .catch(reason => setError(reason instanceof Error ? reason : new Error(String(reason))));
    return () => {
      cancelled = true;
      finalize?.();
    };
  }, [specText, p.width, p.height]);
  const attributes: { [key: string]: string } = {};
  for (const [name, value] of Object.entries(p.data ?? {})) {
    attributes[`data-${name}`] = value;
  }
  return (
    <figure className="jp-mlinfra-Chart" role="img" aria-label={p.label} {...attributes}>
      <div ref={node} className="jp-mlinfra-Chart-canvas" />
      <ErrorBanner error={error} context="Could not draw the chart" />
    </figure>
  );
}
