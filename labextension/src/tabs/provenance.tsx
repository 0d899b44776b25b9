import * as React from 'react';

import { CapabilityStatusView } from '../components/common';
import { TabProps } from './tabProps';

/** The Provenance tab: for now, the capability's live status from GET /mlinfra/api/health. */
export function ProvenanceTab(props: TabProps): JSX.Element {
  return (
    <div className="jp-mlinfra-Tab-body">
      <p className="jp-mlinfra-Tab-intro">
        Every cell execution, recorded: stale cells, out-of-order runs, hidden kernel state and the order that reproduces a result.
      </p>
      <CapabilityStatusView name="provenance" health={props.health} />
    </div>
  );
}
