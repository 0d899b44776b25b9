/**
 * Editing a job in place on its page: parameters, schedule, time zone, dependencies, priority,
 * timeout, retries and visibility, sent with PATCH /jobs/{ref}. The fields are validated as
 * the user types by the Jobs form's own check (checkJobFields), so both forms agree.
 */

import * as React from 'react';

import type { MLInfraAPI } from '../api';
import { ErrorBanner } from '../common';
import type { JobInfo, JobUpdate, JSONValue, NotebookParameter } from '../types';
import {
  ParameterField,
  ScheduleFields,
  checkJobFields,
  defaultText,
  typedValue,
  useSchedulePreview
} from './jobForm';

/** The text a form field shows for a job's stored parameter value. */
export function valueText(p: NotebookParameter, value: JSONValue | undefined): string {
  if (value === undefined) {
    return defaultText(p);
  }
  if (p.inferred_type_name === 'bool') {
    return value ? 'True' : 'False';
  }
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value);
}

const VISIBILITIES: Array<{ value: JobInfo['visibility']; label: string }> = [
  { value: 'private', label: 'private: only its owner may make jobs run after it' },
  { value: 'team', label: "team: its owner's team may make jobs run after it" },
  { value: 'public', label: 'public: anyone may make jobs run after it' }
];

export function JobEditForm(p: {
  api: MLInfraAPI;
  job: JobInfo;
  /** every job the user sees (for "Runs after") */
  jobs: JobInfo[];
  onSaved: (job: JobInfo) => void;
  onCancel: () => void;
}): JSX.Element {
  const { api, job } = p;
  const [params, setParams] = React.useState<NotebookParameter[] | null>(null);
  const [paramsError, setParamsError] = React.useState<Error | null>(null);
  const [values, setValues] = React.useState<{ [name: string]: string }>({});
  const [schedule, setSchedule] = React.useState(job.schedule ?? '');
  const [timezone, setTimezone] = React.useState(job.timezone);
  const [dependsOn, setDependsOn] = React.useState<string[]>(job.depends_on);
  const [priority, setPriority] = React.useState(String(job.priority));
  const [retries, setRetries] = React.useState(String(job.retries));
  const [timeout, setTimeoutText] = React.useState(
    job.timeout_seconds ? String(job.timeout_seconds) : ''
  );
  const [visibility, setVisibility] = React.useState<JobInfo['visibility']>(job.visibility);
  const [error, setError] = React.useState<Error | null>(null);
  const [saving, setSaving] = React.useState(false);

  React.useEffect(() => {
    api.jobs
      .notebookParameters(job.notebook)
      .then(info => {
        // the notebook's parameters, and any the job sets that the notebook no longer has
        const known = new Set(info.parameters.map(q => q.name));
        const extra: NotebookParameter[] = Object.keys(job.parameters)
          .filter(name => !known.has(name))
          .map(name => ({
            name,
            inferred_type_name: 'None',
            default: JSON.stringify(job.parameters[name]),
            help: ''
          }));
        const all = [...info.parameters, ...extra];
        setParams(all);
        setValues(Object.fromEntries(all.map(q => [q.name, valueText(q, job.parameters[q.name])])));
      })
      .catch(setParamsError);
  }, [job.notebook]);

  const { preview, previewError } = useSchedulePreview(api, schedule, timezone);
  const check = checkJobFields({
    params,
    values,
    timezone,
    schedule,
    previewError,
    retries,
    timeout,
    priority
  });
  const ready = params !== null && check.ok && !saving;

  const save = async () => {
    setError(null);
    setSaving(true);
    const changes: JobUpdate = {
      parameters: Object.fromEntries(
        (params ?? []).map(q => [q.name, typedValue(q, values[q.name] ?? '')])
      ),
      schedule: schedule.trim() || null,
      timezone: timezone.trim(),
      depends_on: dependsOn,
      priority: Number.parseInt(priority, 10),
      retries: Number.parseInt(retries || '0', 10),
      timeout_seconds: timeout.trim() ? Number.parseFloat(timeout) : null,
      visibility
    };
    try {
      const saved = await api.jobs.updateJob(job.name, changes);
      p.onSaved(saved);
    } catch (e) {
      setError(e as Error);
    } finally {
      setSaving(false);
    }
  };

  const others = p.jobs.filter(j => j.name !== job.name);
  return (
    <form
      className="jp-mlinfra-Section jp-mlinfra-Jobs-form jp-mlinfra-JobEdit"
      aria-label={`Edit job ${job.name}`}
      onSubmit={e => {
        e.preventDefault();
        if (ready) {
          void save();
        }
      }}
    >
      <h2>Edit job</h2>
      <fieldset className="jp-mlinfra-Jobs-params">
        <legend>Parameters</legend>
        <ErrorBanner error={paramsError} context="Could not read the parameters cell" />
        {params === null && !paramsError && (
          <p className="jp-mlinfra-Empty">Reading the parameters cell…</p>
        )}
        {params !== null && params.length === 0 && (
          <p className="jp-mlinfra-Empty">No parameters.</p>
        )}
        {(params ?? []).map(q => (
          <ParameterField
            key={q.name}
            parameter={q}
            value={values[q.name] ?? ''}
            error={check.errors[q.name]}
            onChange={text => setValues({ ...values, [q.name]: text })}
          />
        ))}
      </fieldset>
      <ScheduleFields
        schedule={schedule}
        timezone={timezone}
        onSchedule={setSchedule}
        onTimezone={setTimezone}
        check={check}
        preview={preview}
        previewError={previewError}
      />
      <fieldset className="jp-mlinfra-Jobs-deps">
        <legend>Runs after</legend>
        {others.length === 0 && <p className="jp-mlinfra-Empty">No other job.</p>}
        {others.map(j => (
          <label key={j.id} className="jp-mlinfra-Jobs-dep">
            <input
              type="checkbox"
              checked={dependsOn.includes(j.name)}
              onChange={e =>
                setDependsOn(
                  e.target.checked ? [...dependsOn, j.name] : dependsOn.filter(d => d !== j.name)
                )
              }
            />{' '}
            {j.name}
          </label>
        ))}
      </fieldset>
      <div className="jp-mlinfra-Toolbar jp-mlinfra-JobEdit-numbers">
        <label className="jp-mlinfra-Field">
          <span>Priority</span>
          <input
            type="number"
            value={priority}
            onChange={e => setPriority(e.target.value)}
            aria-label="Priority"
            aria-invalid={check.priorityOk ? undefined : true}
          />
        </label>
        <label className="jp-mlinfra-Field">
          <span>Retries</span>
          <input
            type="number"
            min="0"
            value={retries}
            onChange={e => setRetries(e.target.value)}
            aria-label="Retries"
            aria-invalid={check.retriesOk ? undefined : true}
          />
        </label>
        <label className="jp-mlinfra-Field">
          <span>Timeout (s)</span>
          <input
            type="number"
            min="1"
            value={timeout}
            placeholder="none"
            onChange={e => setTimeoutText(e.target.value)}
            aria-label="Timeout"
            aria-invalid={check.timeoutOk ? undefined : true}
          />
        </label>
        <label className="jp-mlinfra-Field">
          <span>Visibility</span>
          <select
            value={visibility}
            onChange={e => setVisibility(e.target.value as JobInfo['visibility'])}
            aria-label="Visibility"
          >
            {VISIBILITIES.map(v => (
              <option key={v.value} value={v.value}>
                {v.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBanner error={error} context="Not saved" />
      <div className="jp-mlinfra-Toolbar">
        <button type="submit" className="jp-mlinfra-Button jp-mod-accept" disabled={!ready}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className="jp-mlinfra-Button" onClick={p.onCancel}>
          Cancel
        </button>
      </div>
      {check.blockers.length > 0 && params !== null && (
        <p className="jp-mlinfra-Muted" aria-label="What is missing">
          Needs {check.blockers.join(', ')}.
        </p>
      )}
    </form>
  );
}
