import * as React from 'react';

import { CapabilityStatusView } from '../components/common';
import { TabProps } from './tabProps';

/** The Models tab: for now, the capability's live status from GET /mlinfra/api/health. */
export function ModelsTab(props: TabProps): JSX.Element {
  return (
    <div className="jp-mlinfra-Tab-body">
      <p className="jp-mlinfra-Tab-intro">
        Models registered from notebooks with what it takes to reproduce them: versions, aliases, search, compare.
      </p>
      <CapabilityStatusView name="models" health={props.health} />
    </div>
  );
}
