/** The main-area page of a model: `mlinfra:open-model {name, version?}`. */

import * as React from 'react';

import { askName } from '../common';
import { PageDefinition, PageProps } from '../shell/pages';
import { CommandIDs } from '../tokens';
import { ModelAbout } from './modelAbout';
import { ModelDetailsView } from './tab';

export function ModelPage(props: PageProps): JSX.Element {
  const name = String(props.args.name);
  const version = typeof props.args.version === 'number' ? props.args.version : undefined;
  return (
    <div className="jp-mlinfra-PageBody jp-mlinfra-Models" aria-label={`Model ${name}`}>
      <ModelDetailsView
        name={name}
        version={version}
        props={{ api: props.api, active: props.active }}
        onClose={props.close}
        onChanged={() => undefined}
        previewArtifacts
        renderAbout={(info, refresh) => (
          <ModelAbout key={info.name} api={props.api} info={info} onSaved={refresh} />
        )}
      />
    </div>
  );
}

export const MODEL_PAGES: PageDefinition[] = [
  {
    kind: 'model',
    command: CommandIDs.openModel,
    label: 'Open Model',
    key: args => String(args.name),
    title: args => `Model ${String(args.name)}`,
    valid: args => typeof args.name === 'string' && args.name !== '',
    prompt: async api => {
      const name = await askName('Open model', async () =>
        (await api.models.listModels()).map(m => m.name)
      );
      return name ? { name } : null;
    },
    render: props => <ModelPage {...props} />
  }
];
