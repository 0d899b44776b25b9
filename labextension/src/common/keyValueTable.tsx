import * as React from 'react';

import { JSONValue } from '../types';
import { formatKey, formatValue } from './format';

export interface KeyValueTableProps {
  /** `[key, value]` rows; a value is JSON from the server (formatted) or a React element. */
  entries: Array<[string, JSONValue | React.ReactElement]>;
  /** Accessible name of the table. */
  label?: string;
}

/** Text with a line-break opportunity after each `/`, so paths wrap at folder boundaries. */
export function BreakablePath(props: { text: string }): JSX.Element {
  const parts = props.text.split('/');
  return (
    <>
      {parts.map((part, index) => (
        <React.Fragment key={index}>
          {part}
          {index < parts.length - 1 && (
            <>
              /<wbr />
            </>
          )}
        </React.Fragment>
      ))}
    </>
  );
}

function isFlatObject(
  value: JSONValue
): value is { [key: string]: string | number | boolean | null } {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every(v => v === null || typeof v !== 'object')
  );
}

/** One value: a flat object as `key value` pairs that wrap between pairs, else text. */
export function JSONValueView(props: { value: JSONValue }): JSX.Element {
  const { value } = props;
  if (isFlatObject(value)) {
    return (
      <ul className="jp-mlinfra-KeyValueTable-inline">
        {Object.entries(value).map(([key, item]) => (
          <li key={key} data-key={key}>
            <span className="jp-mlinfra-KeyValueTable-subkey">{formatKey(key)}</span>{' '}
            {formatValue(item)}
          </li>
        ))}
      </ul>
    );
  }
  const text = formatValue(value);
  return text.includes('/') ? <BreakablePath text={text} /> : <>{text}</>;
}

/** A two-column table of keys and values (e.g. a capability's status). */
export function KeyValueTable(props: KeyValueTableProps): JSX.Element {
  return (
    <table className="jp-mlinfra-KeyValueTable" aria-label={props.label}>
      <tbody>
        {props.entries.map(([key, value]) => {
          if (React.isValidElement(value)) {
            return (
              <tr key={key} data-key={key}>
                <th scope="row">{formatKey(key)}</th>
                <td>{value}</td>
              </tr>
            );
          }
          const json = value as JSONValue;
          return (
            <tr key={key} data-key={key}>
              <th scope="row">{formatKey(key)}</th>
              <td title={formatValue(json)}>
                <JSONValueView value={json} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
