/** UI pieces shared by every tab of the ML Infra panel. */

export * from './capabilityStatus';
export * from './dataTable';
export * from './errorBanner';
export * from './errorBoundary';
export * from './format';
export * from './keyValueTable';
export * from './poll';
export * from './searchableList';
export * from './tabBar';
export * from './workbench';
export * from './ask';
export * from './chart';
