import * as React from 'react';

export interface TabBarItem {
  id: string;
  label: string;
}

export interface TabBarProps {
  tabs: TabBarItem[];
  selected: string;
  onSelect: (id: string) => void;
  label: string;
  /** Prefix of the ids linking each tab to its panel (`<prefix>-tab-<id>`, `<prefix>-panel-<id>`). */
  idPrefix: string;
}

/**
 * A row of tabs that wraps onto a second line when the side panel is narrow;
 * arrow keys, Home and End move between tabs (WAI-ARIA tabs pattern).
 */
export function TabBar(props: TabBarProps): JSX.Element {
  const { tabs, selected, onSelect, idPrefix } = props;
  const refs = React.useRef<Array<HTMLButtonElement | null>>([]);

  const onKeyDown = (event: React.KeyboardEvent, index: number) => {
    let next: number | null = null;
    if (event.key === 'ArrowRight') {
      next = (index + 1) % tabs.length;
    } else if (event.key === 'ArrowLeft') {
      next = (index - 1 + tabs.length) % tabs.length;
    } else if (event.key === 'Home') {
      next = 0;
    } else if (event.key === 'End') {
      next = tabs.length - 1;
    }
    if (next !== null) {
      event.preventDefault();
      onSelect(tabs[next].id);
      refs.current[next]?.focus();
    }
  };

  return (
    <div className="jp-mlinfra-TabBar" role="tablist" aria-label={props.label}>
      {tabs.map((tab, index) => {
        const isSelected = tab.id === selected;
        return (
          <button
            key={tab.id}
            ref={element => {
              refs.current[index] = element;
            }}
            type="button"
            role="tab"
            id={`${idPrefix}-tab-${tab.id}`}
            aria-controls={`${idPrefix}-panel-${tab.id}`}
            aria-selected={isSelected}
            tabIndex={isSelected ? 0 : -1}
            data-tab={tab.id}
            className={'jp-mlinfra-TabBar-tab' + (isSelected ? ' jp-mod-current' : '')}
            onClick={() => onSelect(tab.id)}
            onKeyDown={event => onKeyDown(event, index)}
          >
            {tab.label}
          </button>
        );
      })}
    </div>
  );
}
