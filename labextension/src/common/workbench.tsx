/**
 * What every view (side panel tab or main-area page) can reach without threading props:
 * the REST client, the JupyterLab app, and links that open pages.
 *
 *   <RunLink id={run.id} />            opens the run's page (mlinfra:open-run {id})
 *   <ModelLink name="churn" version={3} />
 *   <FeatureViewLink name="spend" />
 *   <JobLink name="train" />
 *   <NotebookLink path="train.ipynb" />  opens the notebook in JupyterLab
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import * as React from 'react';

import type { MLInfraAPI } from '../api';
import { CommandIDs } from '../tokens';

export interface IWorkbench {
  api: MLInfraAPI;
  app: JupyterFrontEnd;
}

export const WorkbenchContext = React.createContext<IWorkbench | null>(null);

export function useWorkbench(): IWorkbench {
  const value = React.useContext(WorkbenchContext);
  if (!value) {
    throw new Error('useWorkbench() outside a WorkbenchContext');
  }
  return value;
}

export interface CommandLinkProps {
  command: string;
  args: ReadonlyPartialJSONObject;
  children: React.ReactNode;
  title?: string;
  className?: string;
  /** data-mlinfra-link: what the link opens (`run`, `model`, ...), for tests and styles. */
  kind: string;
}

/** A link that runs a JupyterLab command (keyboard reachable, opens a page). */
export function CommandLink(props: CommandLinkProps): JSX.Element {
  const { app } = useWorkbench();
  const onClick = (event: React.MouseEvent) => {
    event.preventDefault();
    event.stopPropagation();
    void app.commands.execute(props.command, props.args);
  };
  return (
    <a
      href="#"
      role="link"
      className={`jp-mlinfra-Link ${props.className ?? ''}`.trim()}
      data-mlinfra-link={props.kind}
      title={props.title}
      onClick={onClick}
    >
      {props.children}
    </a>
  );
}

export function RunLink(p: { id: string; children?: React.ReactNode }): JSX.Element {
  return (
    <CommandLink kind="run" command={CommandIDs.openRun} args={{ id: p.id }} title={`Run ${p.id}`}>
      {p.children ?? p.id.slice(0, 8)}
    </CommandLink>
  );
}

export function JobLink(p: { name: string; children?: React.ReactNode }): JSX.Element {
  return (
    <CommandLink kind="job" command={CommandIDs.openJob} args={{ name: p.name }}>
      {p.children ?? p.name}
    </CommandLink>
  );
}

export function ModelLink(p: {
  name: string;
  version?: number;
  children?: React.ReactNode;
}): JSX.Element {
  const args: { [key: string]: string | number } = { name: p.name };
  if (p.version !== undefined) {
    args.version = p.version;
  }
  return (
    <CommandLink kind="model" command={CommandIDs.openModel} args={args}>
      {p.children ?? (p.version !== undefined ? `${p.name} v${p.version}` : p.name)}
    </CommandLink>
  );
}

export function FeatureViewLink(p: { name: string; children?: React.ReactNode }): JSX.Element {
  return (
    <CommandLink kind="feature-view" command={CommandIDs.openFeatureView} args={{ name: p.name }}>
      {p.children ?? p.name}
    </CommandLink>
  );
}

export function NotebookLink(p: { path: string; children?: React.ReactNode }): JSX.Element {
  return (
    <CommandLink
      kind="notebook"
      command="docmanager:open"
      args={{ path: p.path }}
      title={`Open ${p.path}`}
    >
      {p.children ?? p.path}
    </CommandLink>
  );
}

/**
 * A feature reference `view@version:feature` or `view:feature` with the view linked.
 */
export function FeatureRefLink(p: { reference: string }): JSX.Element {
  const match = /^([^@:]+)(@\d+)?(:.*)?$/.exec(p.reference);
  if (!match) {
    return <>{p.reference}</>;
  }
  return (
    <span className="jp-mlinfra-NoBreak">
      <FeatureViewLink name={match[1]}>
        {match[1]}
        {match[2] ?? ''}
      </FeatureViewLink>
      {match[3] ?? ''}
    </span>
  );
}
