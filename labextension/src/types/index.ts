/**
 * TypeScript types mirroring the JSON of the jupyter_mlinfra REST API (served under
 * /mlinfra/api; described by /mlinfra/api/openapi.json), one module per capability.
 */

export * from './core';
export * from './provenance';
export * from './jobs';
export * from './models';
export * from './features';
export * from './notebooks';
export * from './examples';
