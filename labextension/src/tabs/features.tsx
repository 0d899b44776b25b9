import * as React from 'react';

import { CapabilityStatusView } from '../components/common';
import { TabProps } from './tabProps';

/** The Features tab: for now, the capability's live status from GET /mlinfra/api/health. */
export function FeaturesTab(props: TabProps): JSX.Element {
  return (
    <div className="jp-mlinfra-Tab-body">
      <p className="jp-mlinfra-Tab-intro">
        Feature definitions computed once, materialized offline and online, joined point-in-time for training.
      </p>
      <CapabilityStatusView name="features" health={props.health} />
    </div>
  );
}
