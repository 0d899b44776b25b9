import * as React from 'react';

import { ErrorBanner } from './errorBanner';

export interface ErrorBoundaryProps {
  /** What failed, e.g. `The Jobs tab failed`. */
  context: string;
  children?: React.ReactNode;
}

interface ErrorBoundaryState {
  error: Error | null;
}

/**
 * Keeps a rendering error inside one part of the panel (one tab): shows the error with a
 * "Retry" that renders the part again, and logs it to the browser console.
 */
export class ErrorBoundary extends React.Component<ErrorBoundaryProps, ErrorBoundaryState> {
  state: ErrorBoundaryState = { error: null };

  static getDerivedStateFromError(error: unknown): ErrorBoundaryState {
    return {
      error: error instanceof Error ? error : new Error(String(error))
    };
  }

  componentDidCatch(error: unknown, info: React.ErrorInfo): void {
    console.error(`jupyter-mlinfra: ${this.props.context}`, error, info);
  }

  render(): React.ReactNode {
    if (this.state.error) {
      return (
        <div className="jp-mlinfra-Tab-body">
          <ErrorBanner
            error={this.state.error}
            context={this.props.context}
            onRetry={() => this.setState({ error: null })}
          />
        </div>
      );
    }
    return this.props.children;
  }
}
