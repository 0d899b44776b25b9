import * as React from 'react';

import { MLInfraAPIError } from '../api';

export interface ErrorBannerProps {
  /** Nothing is shown when null. */
  error: Error | null;
  /** Text before the message, e.g. `Could not load jobs`. */
  context?: string;
  /** Shows a "Retry" button. */
  onRetry?: () => void;
}

/** One line saying what failed, with the server's own message. */
export function ErrorBanner(props: ErrorBannerProps): JSX.Element | null {
  const { error, context, onRetry } = props;
  if (!error) {
    return null;
  }
  const unreachable = error instanceof MLInfraAPIError && error.status === 0;
  const code =
    error instanceof MLInfraAPIError && error.status > 0
      ? ` (${error.code}, HTTP ${error.status})`
      : '';
  return (
    <div className="jp-mlinfra-ErrorBanner" role="alert">
      <span className="jp-mlinfra-ErrorBanner-text">
        {unreachable ? 'Server unreachable: ' : context ? `${context}: ` : ''}
        {error.message}
        {code}
      </span>
      {onRetry && (
        <button type="button" className="jp-mlinfra-LinkButton" onClick={() => onRetry()}>
          Retry
        </button>
      )}
    </div>
  );
}
