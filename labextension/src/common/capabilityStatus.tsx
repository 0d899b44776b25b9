import * as React from 'react';

import { CapabilityName, Health, JSONValue } from '../types';
import { KeyValueTable } from './keyValueTable';

export interface CapabilityStatusProps {
  name: CapabilityName;
  /** The last health answer; null while loading. */
  health: Health | null;
}

/**
 * A capability's live status from GET /mlinfra/api/health: whether it is available, and
 * either the server's reason why not or the key/value status its service reports.
 */
export function CapabilityStatusView(props: CapabilityStatusProps): JSX.Element {
  const { name, health } = props;
  if (!health) {
    return (
      <p className="jp-mlinfra-Empty" data-capability-status={name}>
        Loading {name} status from the server…
      </p>
    );
  }
  const status = health.capabilities[name];
  if (!status) {
    return (
      <p className="jp-mlinfra-Empty" data-capability-status={name}>
        The server (jupyter_mlinfra {health.version}) reports nothing about {name}.
      </p>
    );
  }
  const { available, message, ...rest } = status;
  const entries = Object.entries(rest).filter(
    (entry): entry is [string, JSONValue] => entry[1] !== undefined
  );
  return (
    <div
      className="jp-mlinfra-CapabilityStatus"
      data-capability-status={name}
      data-available={available ? 'true' : 'false'}
    >
      <p className="jp-mlinfra-CapabilityStatus-line">
        <span
          className={
            'jp-mlinfra-Badge ' + (available ? 'jp-mlinfra-Badge-ok' : 'jp-mlinfra-Badge-off')
          }
        >
          available: {available ? 'true' : 'false'}
        </span>
        {message && (
          <span className="jp-mlinfra-CapabilityStatus-message">
            {' — '}
            {message}
          </span>
        )}
      </p>
      {entries.length > 0 && <KeyValueTable entries={entries} label={`${name} status`} />}
    </div>
  );
}
