/**
 * Main-area pages: one `MainAreaWidget` per object (a run, a job, a model, a feature view),
 * opened by a command whose args are the page's route (`mlinfra:open-run {id}`), reopened
 * by the layout restorer after a reload, and activated instead of opened twice.
 *
 * A capability declares its pages (src/<capability>/pages.tsx) as `PageDefinition`s; this
 * module turns each into a command and a widget tracker.
 */

import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon, ReactWidget } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import type { MLInfraAPI } from '../api';
import { ErrorBoundary, WorkbenchContext } from '../common';
import { mlinfraIcon } from './icons';

export type PageArgs = ReadonlyPartialJSONObject;

export interface PageProps {
  api: MLInfraAPI;
  app: JupyterFrontEnd;
  notebookTracker: INotebookTracker | null;
  /** The route: the command's args (`{id}` of a run, `{name, version?}` of a model). */
  args: PageArgs;
  /** True while the page is shown: poll only then. */
  active: boolean;
  /** Close this page. */
  close: () => void;
}

export interface PageDefinition {
  /** The page kind (`run`, `job`, `model`, `feature-view`): `data-mlinfra-page`. */
  kind: string;
  /** The command that opens it; its args are the route. */
  command: string;
  /** The command's label (palette, menus), e.g. `Open Run…`. */
  label: string;
  /** Fill in args from the context (e.g. the current notebook) before opening. */
  resolve?: (args: PageArgs, context: { notebookTracker: INotebookTracker | null }) => PageArgs;
  /** Ask for the args when the command ran without them (palette, menu). */
  prompt?: (api: MLInfraAPI) => Promise<PageArgs | null>;
  /** The args that identify one page (a second open activates it instead). */
  key: (args: PageArgs) => string;
  /** The tab's title. */
  title: (args: PageArgs) => string;
  /** Valid args? (a command without them asks nothing and does nothing) */
  valid: (args: PageArgs) => boolean;
  render: (props: PageProps) => JSX.Element;
  icon?: LabIcon;
}

/** The React content of a page; knows its route and whether it is shown. */
export class PageContent extends ReactWidget {
  constructor(
    readonly definition: PageDefinition,
    public args: PageArgs,
    private readonly _options: {
      api: MLInfraAPI;
      app: JupyterFrontEnd;
      notebookTracker: INotebookTracker | null;
    }
  ) {
    super();
    this.addClass('jp-mlinfra-Page');
    this.node.dataset.mlinfraPage = definition.kind;
    this.node.dataset.mlinfraKey = definition.key(args);
  }

  get visibilityChanged(): ISignal<this, boolean> {
    return this._visibilityChanged;
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
    const { api, app } = this._options;
    return (
      <WorkbenchContext.Provider value={{ api, app }}>
        <ErrorBoundary context={`The ${this.definition.kind} page failed`}>
          <PageView content={this} />
        </ErrorBoundary>
      </WorkbenchContext.Provider>
    );
  }

  get options() {
    return this._options;
  }

  private _visibilityChanged = new Signal<this, boolean>(this);
}

function PageView(p: { content: PageContent }): JSX.Element {
  const { content } = p;
  const [visible, setVisible] = React.useState(content.isVisible);
  React.useEffect(() => {
    const onChange = (_: PageContent, value: boolean) => setVisible(value);
    content.visibilityChanged.connect(onChange);
    setVisible(content.isVisible);
    return () => {
      content.visibilityChanged.disconnect(onChange);
    };
  }, [content]);
  const close = () => content.parent?.close();
  return content.definition.render({
    ...content.options,
    args: content.args,
    active: visible,
    close
  });
}

/** Register each page's command, tracker and restorer entry. */
export function registerPages(
  app: JupyterFrontEnd,
  definitions: PageDefinition[],
  options: {
    api: MLInfraAPI;
    notebookTracker: INotebookTracker | null;
    restorer: ILayoutRestorer | null;
  }
): void {
  for (const definition of definitions) {
    const tracker = new WidgetTracker<MainAreaWidget<PageContent>>({
      namespace: `mlinfra-${definition.kind}`
    });
    app.commands.addCommand(definition.command, {
      label: args =>
        args.isPalette || args.isMenu || args.isContextMenu || !definition.valid(args)
          ? definition.label
          : definition.title(args),
      caption: `ML Infra: ${definition.label}`,
      icon: args => (args.isPalette ? undefined : (definition.icon ?? mlinfraIcon)),
      execute: async given => {
        let args = definition.resolve
          ? definition.resolve(given, { notebookTracker: options.notebookTracker })
          : given;
        if (!definition.valid(args) && definition.prompt) {
          args = (await definition.prompt(options.api)) ?? args;
        }
        if (!definition.valid(args)) {
          return;
        }
        const key = definition.key(args);
        const open = tracker.find(w => w.content.definition.key(w.content.args) === key);
        if (open) {
          if (JSON.stringify(open.content.args) !== JSON.stringify(args)) {
            open.content.args = args;
            open.content.update();
          }
          app.shell.activateById(open.id);
          return open;
        }
        const content = new PageContent(definition, args, {
          api: options.api,
          app,
          notebookTracker: options.notebookTracker
        });
        const widget = new MainAreaWidget({ content });
        widget.id = `mlinfra-${definition.kind}-${encodeURIComponent(key)}`;
        widget.title.label = definition.title(args);
        widget.title.caption = definition.title(args);
        widget.title.icon = definition.icon ?? mlinfraIcon;
        widget.title.closable = true;
        widget.addClass('jp-mlinfra-PageWidget');
        await tracker.add(widget);
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
        return widget;
      }
    });
    if (options.restorer) {
      void options.restorer.restore(tracker, {
        command: definition.command,
        args: widget => widget.content.args,
        name: widget => definition.key(widget.content.args)
      });
    }
  }
}
