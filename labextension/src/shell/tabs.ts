/**
 * The panel's tabs, in order. A capability replaces the body of its own tab file
 * (src/tabs/<capability>.tsx) and keeps its exported component and `TabProps`.
 * Keep a `<CapabilityStatusView name="<capability>" health={props.health} />` somewhere in
 * the tab: it shows the live status the server reports (tests/ui/test_panel_shell.py
 * checks it against GET /mlinfra/api/health).
 */

import { CapabilityName } from '../types';
import { FeaturesTab } from '../features/tab';
import { JobsTab } from '../jobs/tab';
import { ModelsTab } from '../models/tab';
import { ProvenanceTab } from '../provenance/tab';
import { TabProps } from '../common/tabProps';

export type { TabProps } from '../common/tabProps';

export interface TabDefinition {
  id: CapabilityName;
  label: string;
  component: (props: TabProps) => JSX.Element;
}

export const TABS: TabDefinition[] = [
  { id: 'provenance', label: 'Provenance', component: ProvenanceTab },
  { id: 'jobs', label: 'Jobs', component: JobsTab },
  { id: 'models', label: 'Models', component: ModelsTab },
  { id: 'features', label: 'Features', component: FeaturesTab }
];
