/**
 * A run's output notebook rendered read-only in its page, as JupyterLab renders a notebook:
 * markdown and outputs through JupyterLab's own rendermime registry, every output as
 * untrusted (HTML sanitized, no JavaScript output rendered, no script run: what JupyterLab
 * does with a notebook the user has not trusted), code in JupyterLab's input area coloured by
 * JupyterLab's own highlighter (IEditorLanguageRegistry, the notebook's language, the
 * theme's editor colours), prompts `[n]:`. The failing cell is marked; `scrollToCell` brings a cell into view and flashes it.
 *
 * Cells re-render only when their content changed, so a running run's notebook grows cell by
 * cell without the ones above it flickering.
 */

import type { JupyterFrontEnd } from '@jupyterlab/application';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import '../../style/outputHighlight.css';

type MultilineString = string | string[];

interface NotebookOutput {
  output_type: 'stream' | 'display_data' | 'execute_result' | 'error' | string;
  name?: string;
  text?: MultilineString;
  data?: { [mime: string]: unknown };
  metadata?: { [key: string]: unknown };
  execution_count?: number | null;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export interface NotebookCell {
  id?: string;
  cell_type: 'code' | 'markdown' | 'raw' | string;
  source: MultilineString;
  execution_count?: number | null;
  outputs?: NotebookOutput[];
  metadata?: { [key: string]: unknown };
}

export interface NotebookDocument {
  cells?: NotebookCell[];
  metadata?: { [key: string]: unknown };
}

/** Where the error happened, as the run reports it. */
export interface FailedCell {
  cellId?: string;
  executionCount?: number;
  cellIndex?: number;
}

function text(value: MultilineString | undefined): string {
  return Array.isArray(value) ? value.join('') : (value ?? '');
}

/** JupyterLab's registry (markdown parser, LaTeX, sanitizer), resolved once. */
export function useRenderMime(app: JupyterFrontEnd): IRenderMimeRegistry | null {
  const [registry, setRegistry] = React.useState<IRenderMimeRegistry | null>(null);
  React.useEffect(() => {
    let gone = false;
    void app.resolveOptionalService(IRenderMimeRegistry).then(found => {
      if (!gone) {
        setRegistry(found);
      }
    });
    return () => {
      gone = true;
    };
  }, [app]);
  return registry;
}

/** JupyterLab's editor languages (its syntax highlighter), resolved once; null without. */
export function useEditorLanguages(app: JupyterFrontEnd): IEditorLanguageRegistry | null {
  const [registry, setRegistry] = React.useState<IEditorLanguageRegistry | null>(null);
  React.useEffect(() => {
    let gone = false;
    void app.resolveOptionalService(IEditorLanguageRegistry).then(found => {
      if (!gone) {
        setRegistry(found);
      }
    });
    return () => {
      gone = true;
    };
  }, [app]);
  return registry;
}

/** The notebook's language as its metadata names it (language_info, kernelspec). */
function notebookLanguage(notebook: NotebookDocument): string {
  const info = notebook.metadata?.language_info as { name?: unknown } | undefined;
  const spec = notebook.metadata?.kernelspec as { language?: unknown } | undefined;
  const name = info?.name ?? spec?.language;
  return typeof name === 'string' && name ? name : 'python';
}

/**
 * A code cell's source, coloured by JupyterLab's highlighter (plain text until then, or
 * without one). Its text is set here, not by React, since the highlighter fills the node.
 */
function CodeSource(p: {
  code: string;
  language: string;
  languages: IEditorLanguageRegistry | null;
}): JSX.Element {
  const host = React.useRef<HTMLPreElement>(null);
  React.useEffect(() => {
    const node = host.current;
    if (!node) {
      return;
    }
    node.textContent = p.code;
    delete node.dataset.highlighted;
    const languages = p.languages;
    if (!languages) {
      return;
    }
    let gone = false;
    const out = document.createElement('span');
    void languages
      .highlight(p.code, languages.findBest(p.language), out)
      .then(() => {
        if (!gone) {
          node.replaceChildren(...Array.from(out.childNodes));
          node.dataset.highlighted = 'true';
        }
      })
      .catch(() => undefined); // the plain text stays
    return () => {
      gone = true;
    };
  }, [p.code, p.language, p.languages]);
  return <pre ref={host} className="jp-mlinfra-OutputCell-source" data-language={p.language} />;
}

/** The mime bundle of one output, as JupyterLab's output model builds it. */
function bundleOf(output: NotebookOutput): IRenderMime.IMimeModel['data'] {
  switch (output.output_type) {
    case 'stream':
      return {
        [`application/vnd.jupyter.${output.name === 'stderr' ? 'stderr' : 'stdout'}`]: text(
          output.text
        )
      };
    case 'error':
      return {
        'application/vnd.jupyter.stderr':
          (output.traceback ?? []).join('\n') || `${output.ename}: ${output.evalue}`
      };
    default: {
      const data: { [mime: string]: never } = {};
      for (const [mime, value] of Object.entries(output.data ?? {})) {
        data[mime] = (
          Array.isArray(value) && value.every(v => typeof v === 'string') ? value.join('') : value
        ) as never;
      }
      return data;
    }
  }
}

/** Index, in the rendered notebook, of the cell the error names (id first, then count). */
export function failedCellIndex(cells: NotebookCell[], failed: FailedCell | null): number {
  if (!failed) {
    return -1;
  }
  if (failed.cellId) {
    const byId = cells.findIndex(c => c.id === failed.cellId);
    if (byId >= 0) {
      return byId;
    }
  }
  if (failed.executionCount !== undefined) {
    const byCount = cells.findIndex(
      c => c.cell_type === 'code' && c.execution_count === failed.executionCount
    );
    if (byCount >= 0) {
      return byCount;
    }
  }
  // else: the cell holding an error output
  return cells.findIndex(c => (c.outputs ?? []).some(o => o.output_type === 'error'));
}

/** Bring a rendered cell into view and flash it (the "cell N" link of an error). */
export function scrollToCell(root: HTMLElement | null, index: number): boolean {
  const cell = root?.querySelector<HTMLElement>(`[data-cell-index='${index}']`);
  if (!cell) {
    return false;
  }
  cell.scrollIntoView({ block: 'center' });
  cell.classList.remove('jp-mlinfra-OutputCell-flash');
  // restart the animation
  void cell.offsetWidth;
  cell.classList.add('jp-mlinfra-OutputCell-flash');
  cell.focus({ preventScroll: true });
  return true;
}

/** Rendered mime outputs (or markdown) in a host node; re-rendered when `content` changes. */
function Rendered(p: {
  rendermime: IRenderMimeRegistry;
  items: Array<{ bundle: IRenderMime.IMimeModel['data']; metadata: object; prompt: string }>;
  className: string;
}): JSX.Element {
  const host = React.useRef<HTMLDivElement>(null);
  const content = JSON.stringify(p.items);
  React.useEffect(() => {
    const node = host.current;
    if (!node) {
      return;
    }
    const widgets: Widget[] = [];
    node.replaceChildren();
    for (const item of p.items) {
      const child = document.createElement('div');
      child.className = p.className;
      node.appendChild(child);
      if (p.className === 'jp-OutputArea-child') {
        const prompt = document.createElement('div');
        prompt.className = 'jp-OutputPrompt jp-OutputArea-prompt';
        prompt.textContent = item.prompt;
        child.appendChild(prompt);
      }
      // untrusted: only the mime types safe without trust ('ensure'), as JupyterLab does
      const mime = p.rendermime.preferredMimeType(item.bundle, 'ensure');
      if (!mime) {
        const note = document.createElement('div');
        note.className = 'jp-OutputArea-output jp-mlinfra-Muted';
        note.textContent = `(output of type ${Object.keys(item.bundle).join(', ')} not shown)`;
        child.appendChild(note);
        continue;
      }
      const renderer = p.rendermime.createRenderer(mime);
      if (p.className === 'jp-OutputArea-child') {
        renderer.addClass('jp-OutputArea-output');
      }
      void renderer.renderModel(
        new MimeModel({
          data: item.bundle,
          metadata: item.metadata as never,
          trusted: false
        })
      );
      Widget.attach(renderer, child);
      widgets.push(renderer);
    }
    return () => {
      for (const widget of widgets) {
        widget.dispose();
      }
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [content, p.rendermime, p.className]);
  return (
    <div ref={host} className={p.className === 'jp-OutputArea-child' ? 'jp-OutputArea' : ''} />
  );
}

function CellViewBase(p: {
  cell: NotebookCell;
  index: number;
  failed: boolean;
  rendermime: IRenderMimeRegistry;
  language: string;
  languages: IEditorLanguageRegistry | null;
}): JSX.Element {
  const { cell, index, failed } = p;
  const classes = ['jp-Cell', 'jp-mlinfra-OutputCell'];
  if (failed) {
    classes.push('jp-mlinfra-OutputCell-failed');
  }
  if (cell.cell_type === 'markdown') {
    classes.push('jp-MarkdownCell');
    return (
      <div
        className={classes.join(' ')}
        data-cell-index={index}
        data-cell-id={cell.id}
        tabIndex={-1}
      >
        <div className="jp-Cell-inputWrapper">
          <div className="jp-InputArea jp-Cell-inputArea">
            <div className="jp-InputPrompt jp-InputArea-prompt" />
            <Rendered
              rendermime={p.rendermime}
              className="jp-mlinfra-OutputCell-markdown"
              items={[{ bundle: { 'text/markdown': text(cell.source) }, metadata: {}, prompt: '' }]}
            />
          </div>
        </div>
      </div>
    );
  }
  if (cell.cell_type !== 'code') {
    return (
      <div
        className={classes.join(' ')}
        data-cell-index={index}
        data-cell-id={cell.id}
        tabIndex={-1}
      >
        <div className="jp-InputArea jp-Cell-inputArea">
          <div className="jp-InputPrompt jp-InputArea-prompt" />
          <pre className="jp-mlinfra-OutputCell-source">{text(cell.source)}</pre>
        </div>
      </div>
    );
  }
  classes.push('jp-CodeCell');
  const count = cell.execution_count;
  const prompt = `[${count ?? ' '}]:`;
  const outputs = (cell.outputs ?? []).map(output => ({
    bundle: bundleOf(output),
    metadata: output.metadata ?? {},
    prompt: output.output_type === 'execute_result' ? `[${output.execution_count ?? ' '}]:` : ''
  }));
  return (
    <div
      className={classes.join(' ')}
      data-cell-index={index}
      data-cell-id={cell.id}
      data-execution-count={count ?? ''}
      tabIndex={-1}
      aria-label={failed ? `Cell [${count ?? ''}], where the run failed` : undefined}
    >
      <div className="jp-Cell-inputWrapper">
        <div className="jp-InputArea jp-Cell-inputArea">
          <div className="jp-InputPrompt jp-InputArea-prompt">{prompt}</div>
          <div className="jp-InputArea-editor jp-mlinfra-OutputCell-editor">
            <CodeSource code={text(cell.source)} language={p.language} languages={p.languages} />
          </div>
        </div>
      </div>
      {outputs.length > 0 && (
        <div className="jp-Cell-outputWrapper">
          <Rendered rendermime={p.rendermime} className="jp-OutputArea-child" items={outputs} />
        </div>
      )}
    </div>
  );
}

const CellView = React.memo(CellViewBase);

/** papermill's "An Exception was encountered" cells: the page shows the error (and marks
 * its cell) itself. */
function isPapermillBanner(cell: NotebookCell): boolean {
  const tags = (cell.metadata?.tags ?? []) as unknown;
  return Array.isArray(tags) && tags.includes('papermill-error-cell-tag');
}

/** The notebook, read-only; `rootRef` is the scroll container (for `scrollToCell`). */
export function OutputNotebook(p: {
  notebook: NotebookDocument;
  rendermime: IRenderMimeRegistry;
  failedIndex: number;
  rootRef: React.RefObject<HTMLDivElement>;
  label: string;
  /** JupyterLab's highlighter for the code cells (none: plain text). */
  languages?: IEditorLanguageRegistry | null;
}): JSX.Element {
  const cells = p.notebook.cells ?? [];
  const language = notebookLanguage(p.notebook);
  return (
    <div
      ref={p.rootRef}
      className="jp-mlinfra-OutputNotebook jp-Notebook jp-mod-commandMode"
      aria-label={p.label}
      role="document"
      tabIndex={0}
      data-cells={cells.length}
    >
      {cells.map((cell, index) =>
        isPapermillBanner(cell) ? null : (
          <CellView
            key={cell.id ?? index}
            cell={cell}
            index={index}
            failed={index === p.failedIndex}
            rendermime={p.rendermime}
            language={language}
            languages={p.languages ?? null}
          />
        )
      )}
    </div>
  );
}
