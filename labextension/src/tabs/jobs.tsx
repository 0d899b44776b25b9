import * as React from 'react';

import { CapabilityStatusView } from '../components/common';
import { TabProps } from './tabProps';

/** The Jobs tab: for now, the capability's live status from GET /mlinfra/api/health. */
export function JobsTab(props: TabProps): JSX.Element {
  return (
    <div className="jp-mlinfra-Tab-body">
      <p className="jp-mlinfra-Tab-intro">
        Notebooks with a parameters cell, run as jobs: now, on a schedule, after other jobs or as a sweep, by papermill.
      </p>
      <CapabilityStatusView name="jobs" health={props.health} />
    </div>
  );
}
