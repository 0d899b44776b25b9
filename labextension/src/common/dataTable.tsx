import * as React from 'react';

export interface DataTableColumn<Row> {
  /** Stable id (also the `data-column` attribute of its cells). */
  id: string;
  label: string;
  /** The cell's content. */
  render: (row: Row) => React.ReactNode;
  /** A value to sort by; the column is sortable when given. */
  sortValue?: (row: Row) => string | number | null;
  /** Tooltip of the cell (e.g. a full id or a UTC time). */
  title?: (row: Row) => string | undefined;
  align?: 'left' | 'right' | 'center';
  /** CSS width, e.g. `4em` or `30%`. */
  width?: string;
  /**
   * Hidden when the list is narrow (the side panel at about 300 px): its content is also in
   * another column's tooltip or on the row's page.
   */
  secondary?: boolean;
}

export interface DataTableProps<Row> {
  columns: DataTableColumn<Row>[];
  rows: Row[];
  rowKey: (row: Row) => string;
  /** Shown instead of the table when there are no rows. */
  emptyText: string;
  label?: string;
  /** Makes rows clickable (and focusable: Enter selects). */
  onRowClick?: (row: Row) => void;
  /** Key of the highlighted row. */
  selectedKey?: string | null;
  /** Initial sort: column id and direction. */
  initialSort?: { column: string; descending?: boolean };
}

/** A compact table for the narrow side panel, with optional sorting and row selection. */
export function DataTable<Row>(props: DataTableProps<Row>): JSX.Element {
  const { columns, rows, rowKey, onRowClick, selectedKey } = props;
  const [sort, setSort] = React.useState(props.initialSort ?? null);

  const sorted = React.useMemo(() => {
    const column = sort && columns.find(c => c.id === sort.column);
    if (!sort || !column?.sortValue) {
      return rows;
    }
    const value = column.sortValue;
    const factor = sort.descending ? -1 : 1;
    return [...rows].sort((a, b) => {
      const x = value(a);
      const y = value(b);
      if (x === y) {
        return 0;
      }
      if (x === null) {
        return 1;
      }
      if (y === null) {
        return -1;
      }
      return (x < y ? -1 : 1) * factor;
    });
  }, [rows, columns, sort]);

  if (!rows.length) {
    return <p className="jp-mlinfra-Empty">{props.emptyText}</p>;
  }

  const onHeaderClick = (column: DataTableColumn<Row>) => {
    if (!column.sortValue) {
      return;
    }
    setSort(current =>
      current?.column === column.id
        ? { column: column.id, descending: !current.descending }
        : { column: column.id, descending: false }
    );
  };

  return (
    <div className="jp-mlinfra-DataTable-scroll">
      <table className="jp-mlinfra-DataTable" aria-label={props.label}>
        <thead>
          <tr>
            {columns.map(column => {
              const sortedHere = sort?.column === column.id;
              return (
                <th
                  key={column.id}
                  scope="col"
                  style={{ width: column.width, textAlign: column.align }}
                  data-secondary={column.secondary ? '' : undefined}
                  title={column.label || undefined}
                  className={column.sortValue ? 'jp-mlinfra-sortable' : undefined}
                  aria-sort={
                    sortedHere ? (sort?.descending ? 'descending' : 'ascending') : undefined
                  }
                  onClick={() => onHeaderClick(column)}
                >
                  {column.label}
                  {sortedHere ? (sort?.descending ? ' ▾' : ' ▴') : ''}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {sorted.map(row => {
            const key = rowKey(row);
            return (
              <tr
                key={key}
                data-row-key={key}
                className={key === selectedKey ? 'jp-mod-selected' : undefined}
                tabIndex={onRowClick ? 0 : undefined}
                onClick={onRowClick ? () => onRowClick(row) : undefined}
                onKeyDown={
                  onRowClick
                    ? event => {
                        if (event.key === 'Enter') {
                          onRowClick(row);
                        }
                      }
                    : undefined
                }
              >
                {columns.map(column => (
                  <td
                    key={column.id}
                    data-column={column.id}
                    data-secondary={column.secondary ? '' : undefined}
                    style={{ textAlign: column.align }}
                    title={column.title?.(row)}
                  >
                    {column.render(row)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
