/**
 * The ML Infra side panel: a header with the server's version and storage backends, a tab
 * bar, and one tab per capability (src/tabs/). Health is fetched when the panel becomes
 * visible and every 10 s while it stays visible.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ReactWidget, refreshIcon } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { MLInfraAPI } from '../api';
import {
  DEFAULT_POLL_INTERVAL_MS,
  ErrorBanner,
  ErrorBoundary,
  formatAgo,
  TabBar,
  usePoll,
  WorkbenchContext
} from '../common';
import { mlinfraIcon } from './icons';
import { TABS } from './tabs';
import { CapabilityName, Health } from '../types';

export const PANEL_ID = 'mlinfra-panel';

export interface MLInfraPanelOptions {
  api: MLInfraAPI;
  app: JupyterFrontEnd;
  notebookTracker: INotebookTracker | null;
}

export class MLInfraPanel extends ReactWidget {
  constructor(options: MLInfraPanelOptions) {
    super();
    this._options = options;
    this.id = PANEL_ID;
    this.addClass('jp-mlinfra-Panel');
    this.title.icon = mlinfraIcon;
    this.title.caption = 'ML Infra';
  }

  /** Emits true when the panel is shown and false when it is hidden. */
  get visibilityChanged(): ISignal<this, boolean> {
    return this._visibilityChanged;
  }

  /** Emits the tab a command asked for. */
  get tabRequested(): ISignal<this, CapabilityName> {
    return this._tabRequested;
  }

  /** Show one tab (used by the "ML Infra: Open panel" command's `tab` argument). */
  selectTab(id: CapabilityName): void {
    this._requestedTab = id;
    this._tabRequested.emit(id);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._visibilityChanged.emit(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._visibilityChanged.emit(false);
  }

  render(): JSX.Element {
    return (
      <WorkbenchContext.Provider value={{ api: this._options.api, app: this._options.app }}>
        <PanelView {...this._options} widget={this} initialTab={this._requestedTab} />
      </WorkbenchContext.Provider>
    );
  }

  private _options: MLInfraPanelOptions;
  private _requestedTab: CapabilityName = TABS[0].id;
  private _visibilityChanged = new Signal<this, boolean>(this);
  private _tabRequested = new Signal<this, CapabilityName>(this);
}

interface PanelViewProps extends MLInfraPanelOptions {
  widget: MLInfraPanel;
  initialTab: CapabilityName;
}

function useWidgetVisible(widget: MLInfraPanel): boolean {
  const [visible, setVisible] = React.useState(widget.isVisible);
  React.useEffect(() => {
    const onChange = (_: MLInfraPanel, value: boolean) => setVisible(value);
    widget.visibilityChanged.connect(onChange);
    setVisible(widget.isVisible);
    return () => {
      widget.visibilityChanged.disconnect(onChange);
    };
  }, [widget]);
  return visible;
}

function PanelView(props: PanelViewProps): JSX.Element {
  const { api, app, notebookTracker, widget } = props;
  const visible = useWidgetVisible(widget);
  const health = usePoll(() => api.health(), {
    active: visible,
    intervalMs: DEFAULT_POLL_INTERVAL_MS
  });

  const [selected, setSelected] = React.useState<CapabilityName>(props.initialTab);
  // Tabs are mounted the first time they are selected and then kept (hidden), so a tab
  // keeps its state (selection, scroll) when the user switches back to it.
  const [mounted, setMounted] = React.useState<Set<CapabilityName>>(
    () => new Set([props.initialTab])
  );
  const select = React.useCallback((id: CapabilityName) => {
    setSelected(id);
    setMounted(current => (current.has(id) ? current : new Set([...current, id])));
  }, []);
  React.useEffect(() => {
    const onRequest = (_: MLInfraPanel, id: CapabilityName) => select(id);
    widget.tabRequested.connect(onRequest);
    return () => {
      widget.tabRequested.disconnect(onRequest);
    };
  }, [widget, select]);

  const refreshHealth = React.useCallback(() => {
    void health.refresh();
  }, [health.refresh]);

  return (
    <div className="jp-mlinfra-PanelView">
      <PanelHeader
        health={health.data}
        error={health.error}
        loading={health.loading}
        updatedAt={health.updatedAt}
        onRefresh={refreshHealth}
      />
      <TabBar
        tabs={TABS}
        selected={selected}
        onSelect={id => select(id as CapabilityName)}
        label="ML Infra capabilities"
        idPrefix="mlinfra"
      />
      <div className="jp-mlinfra-TabPanels">
        {TABS.filter(tab => mounted.has(tab.id)).map(tab => {
          const Component = tab.component;
          const isSelected = tab.id === selected;
          return (
            <div
              key={tab.id}
              role="tabpanel"
              id={`mlinfra-panel-${tab.id}`}
              aria-labelledby={`mlinfra-tab-${tab.id}`}
              data-mlinfra-tab={tab.id}
              className="jp-mlinfra-TabPanel"
              hidden={!isSelected}
            >
              <ErrorBoundary context={`The ${tab.label} tab failed`}>
                <Component
                  api={api}
                  app={app}
                  notebookTracker={notebookTracker}
                  health={health.data}
                  healthError={health.error}
                  refreshHealth={refreshHealth}
                  active={visible && isSelected}
                />
              </ErrorBoundary>
            </div>
          );
        })}
      </div>
    </div>
  );
}

interface PanelHeaderProps {
  health: Health | null;
  error: Error | null;
  loading: boolean;
  updatedAt: Date | null;
  onRefresh: () => void;
}

function PanelHeader(props: PanelHeaderProps): JSX.Element {
  const { health, error, loading, updatedAt, onRefresh } = props;
  const catalogTitle = health
    ? `catalog ${health.catalog.url}\nschema ${health.catalog.schema_revisions.join(', ')}`
    : undefined;
  const artifactTitle = health
    ? `artifacts ${health.artifacts.root}` +
      (health.artifacts.endpoint_url ? `\nendpoint ${health.artifacts.endpoint_url}` : '')
    : undefined;
  return (
    <header className="jp-mlinfra-Header">
      <div className="jp-mlinfra-Header-titleRow">
        <h2 className="jp-mlinfra-Header-title">ML Infra</h2>
        <button
          type="button"
          className="jp-mlinfra-IconButton"
          onClick={onRefresh}
          disabled={loading}
          title={`Refresh (last update ${formatAgo(updatedAt)})`}
          aria-label="Refresh status"
        >
          <refreshIcon.react tag="span" className="jp-mlinfra-IconButton-icon" />
        </button>
      </div>
      {health ? (
        <dl className="jp-mlinfra-Header-facts">
          <div>
            <dt>version</dt>
            <dd data-mlinfra-field="version">{health.version}</dd>
          </div>
          <div title={catalogTitle}>
            <dt>catalog</dt>
            <dd data-mlinfra-field="catalog-backend">{health.catalog.backend}</dd>
          </div>
          <div title={artifactTitle}>
            <dt>artifacts</dt>
            <dd data-mlinfra-field="artifact-backend">{health.artifacts.backend}</dd>
          </div>
          {health.user && (
            <div>
              <dt>user</dt>
              <dd data-mlinfra-field="user">{health.user}</dd>
            </div>
          )}
        </dl>
      ) : (
        !error && <p className="jp-mlinfra-Empty">Connecting to the server…</p>
      )}
      <ErrorBanner error={error} context="Could not load the server status" onRetry={onRefresh} />
    </header>
  );
}
