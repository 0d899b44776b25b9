/** The main-area page of a feature view: `mlinfra:open-feature-view {name}`. */

import * as React from 'react';

import { askName } from '../common';
import { PageDefinition, PageProps } from '../shell/pages';
import { CommandIDs } from '../tokens';
import { FeatureViewDetailsView } from './tab';

export function FeatureViewPage(props: PageProps): JSX.Element {
  const name = String(props.args.name);
  return (
    <div className="jp-mlinfra-PageBody jp-mlinfra-Features" aria-label={`Feature view ${name}`}>
      <FeatureViewDetailsView
        name={name}
        props={{ api: props.api, active: props.active }}
        onClose={props.close}
      />
    </div>
  );
}

export const FEATURE_PAGES: PageDefinition[] = [
  {
    kind: 'feature-view',
    command: CommandIDs.openFeatureView,
    label: 'Open Feature View',
    key: args => String(args.name),
    title: args => `Features ${String(args.name)}`,
    valid: args => typeof args.name === 'string' && args.name !== '',
    prompt: async api => {
      const name = await askName('Open feature view', async () =>
        (await api.features.listFeatureViews()).map(v => v.name)
      );
      return name ? { name } : null;
    },
    render: props => <FeatureViewPage {...props} />
  }
];
