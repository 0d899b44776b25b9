/**
 * A job's dependencies drawn as a graph: the jobs it runs after (upstream, transitively), the
 * job, and the jobs that run after it (downstream), left to right. Each node is a link to its
 * job's page and shows the state of that job's last run.
 *
 * The layout is dagre's (@dagrejs/dagre: layered drawing of a directed graph, rank by rank,
 * fewest crossings); Vega's own tree layout takes one parent per node, and a job may run
 * after several. Nodes are HTML (links and state badges that are keyboard reachable, themed
 * and checked for contrast like the rest of the page); the edges are an SVG layer under them.
 */

import dagre from '@dagrejs/dagre';
import * as React from 'react';

import { JobLink } from '../common';
import type { JobInfo, RunInfo } from '../types';
import { StateBadge } from './runState';

export interface DependencyGraph {
  /** job names, upstream first */
  nodes: string[];
  /** [upstream, downstream] */
  edges: Array<[string, string]>;
}

/** The jobs ``name`` runs after and the jobs that run after it, transitively. */
export function dependencyGraph(name: string, jobs: JobInfo[], self?: JobInfo): DependencyGraph {
  const byName = new Map(jobs.map(j => [j.name, j]));
  if (self) {
    byName.set(self.name, self);
  }
  const downstreamOf = new Map<string, string[]>();
  for (const j of byName.values()) {
    for (const up of j.depends_on) {
      downstreamOf.set(up, [...(downstreamOf.get(up) ?? []), j.name]);
    }
  }
  const nodes = new Set<string>([name]);
  const edges = new Set<string>();
  const walk = (start: string, next: (n: string) => string[], up: boolean) => {
    const todo = [start];
    while (todo.length) {
      const n = todo.pop()!;
      for (const m of next(n)) {
        edges.add(JSON.stringify(up ? [m, n] : [n, m]));
        if (!nodes.has(m)) {
          nodes.add(m);
          todo.push(m);
        }
      }
    }
  };
  walk(name, n => byName.get(n)?.depends_on ?? [], true);
  walk(name, n => downstreamOf.get(n) ?? [], false);
  return {
    nodes: [...nodes],
    edges: [...edges].map(e => JSON.parse(e) as [string, string])
  };
}

const NODE_HEIGHT = 52;
const CHAR_WIDTH = 8;

interface Placed {
  name: string;
  x: number;
  y: number;
  width: number;
}

export function JobGraph(p: {
  name: string;
  graph: DependencyGraph;
  /** the last run of each job, when it has one */
  lastRuns: { [name: string]: RunInfo | null };
}): JSX.Element {
  const { graph } = p;
  const layout = React.useMemo(() => {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 16, ranksep: 56, marginx: 4, marginy: 4 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of graph.nodes) {
      g.setNode(n, { width: Math.max(120, n.length * CHAR_WIDTH + 32), height: NODE_HEIGHT });
    }
    for (const [a, b] of graph.edges) {
      g.setEdge(a, b);
    }
    dagre.layout(g);
    const nodes: Placed[] = graph.nodes.map(n => {
      const node = g.node(n);
      return { name: n, x: node.x, y: node.y, width: node.width };
    });
    const edges = g.edges().map(e => ({
      key: `${e.v}->${e.w}`,
      points: g.edge(e).points ?? []
    }));
    const label = g.graph();
    return { nodes, edges, width: label.width ?? 0, height: label.height ?? 0 };
  }, [JSON.stringify(graph)]);

  if (graph.nodes.length === 1) {
    return (
      <p className="jp-mlinfra-Empty">It runs after no other job, and no job runs after it.</p>
    );
  }
  return (
    <div
      className="jp-mlinfra-JobGraph"
      role="group"
      aria-label="Dependency graph"
      style={{ width: layout.width, height: layout.height }}
    >
      <svg
        className="jp-mlinfra-JobGraph-edges"
        width={layout.width}
        height={layout.height}
        aria-hidden="true"
      >
        <defs>
          <marker
            id="jp-mlinfra-JobGraph-arrow"
            viewBox="0 0 10 10"
            refX="10"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" />
          </marker>
        </defs>
        {layout.edges.map(e => (
          <polyline
            key={e.key}
            data-edge={e.key}
            points={e.points.map((pt: { x: number; y: number }) => `${pt.x},${pt.y}`).join(' ')}
            markerEnd="url(#jp-mlinfra-JobGraph-arrow)"
          />
        ))}
      </svg>
      {layout.nodes.map(n => {
        const run = p.lastRuns[n.name];
        const current = n.name === p.name;
        return (
          <div
            key={n.name}
            className={`jp-mlinfra-JobGraph-node${current ? ' jp-mod-current' : ''}`}
            data-job-node={n.name}
            data-state={run?.state ?? 'none'}
            style={{
              left: n.x - n.width / 2,
              top: n.y - NODE_HEIGHT / 2,
              width: n.width,
              height: NODE_HEIGHT
            }}
          >
            {current ? (
              <strong className="jp-mlinfra-JobGraph-name" aria-current="page">
                {n.name}
              </strong>
            ) : (
              <span className="jp-mlinfra-JobGraph-name">
                <JobLink name={n.name} />
              </span>
            )}
            {run ? (
              <StateBadge run={run} />
            ) : (
              <span className="jp-mlinfra-JobGraph-none">no run yet</span>
            )}
          </div>
        );
      })}
    </div>
  );
}
