/**
 * The job form: make a job (or a run) from a notebook, with a field per parameter of its
 * parameters cell, validated as you type against the parameter's papermill type (an int
 * refuses `2500.7`, an empty float is an error, not None), a cron field shown in words with
 * the next fire times, IANA time zones, and Run/Create disabled until everything is valid.
 * Used by the Jobs tab (the open notebook) and by the "New job" page (a given notebook).
 */

import cronstrue from 'cronstrue';
import * as React from 'react';

import type { MLInfraAPI } from '../api';
import { ErrorBanner, formatTimestamp } from '../common';
import { formatFireTime } from './fireTimes';
import type { JobInfo, JSONValue, NotebookParameter, SchedulePreview } from '../types';
import { INotebookTracker } from '@jupyterlab/notebook';

/** The value a form field shows for a parameter's default literal (`'a'` -> `a`). */
export function defaultText(p: NotebookParameter): string {
  const raw = (p.default ?? '').trim();
  if (p.inferred_type_name === 'str' && /^(['"]).*\1$/s.test(raw)) {
    return raw.slice(1, -1);
  }
  return raw;
}

/** A form value converted to the parameter's type, as papermill would inject it. */
export function typedValue(p: NotebookParameter, text: string): JSONValue {
  switch (p.inferred_type_name) {
    case 'int':
      return Number.parseInt(text, 10);
    case 'float':
      return Number.parseFloat(text);
    case 'bool':
      return text === 'True' || text === 'true';
    case 'str':
      return text;
    default:
      try {
        return JSON.parse(text) as JSONValue;
      } catch {
        return text;
      }
  }
}

function localTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** Why a parameter's text is not a value of its type; null when it is. */
export function parameterError(p: NotebookParameter, text: string): string | null {
  const value = text.trim();
  switch (p.inferred_type_name) {
    case 'int':
      if (!value) {
        return 'an int is required';
      }
      return /^[+-]?\d+$/.test(value) ? null : `not an int: ${value}`;
    case 'float':
      if (!value) {
        return 'a float is required';
      }
      return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value) ||
        /^[+-]?(inf|nan)$/i.test(value)
        ? null
        : `not a float: ${value}`;
    case 'bool':
      return /^(true|false)$/i.test(value) ? null : 'True or False';
    case 'str':
      return null;
    default:
      return null;
  }
}

/** The IANA time zone names this browser knows. */
export function timeZoneNames(): string[] {
  try {
    const names = (
      Intl as unknown as { supportedValuesOf?: (key: string) => string[] }
    ).supportedValuesOf?.('timeZone');
    if (names && names.length) {
      return names.includes('UTC') ? names : ['UTC', ...names];
    }
  } catch {
    /* older browsers */
  }
  return ['UTC'];
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return name.trim() !== '';
  } catch {
    return false;
  }
}

/** A cron expression in words ("At 06:00, Monday through Friday"), or null if invalid. */
export function cronInWords(expression: string): string | null {
  try {
    return cronstrue.toString(expression, { use24HourTimeFormat: true, verbose: false });
  } catch {
    return null;
  }
}

/** The fields of a job as typed in a form (the Jobs form, the job page's edit form). */
export interface JobFieldsText {
  params: NotebookParameter[] | null;
  values: { [name: string]: string };
  /** undefined: the form has no name field (a job's name does not change) */
  name?: string;
  timezone: string;
  schedule: string;
  previewError: Error | null;
  retries: string;
  timeout: string;
  /** undefined: the form has no priority field */
  priority?: string;
}

export interface JobFieldsCheck {
  /** per parameter: why its text is not a value of its type, or null */
  errors: { [name: string]: string | null };
  invalidParams: number;
  zoneOk: boolean;
  /** the cron expression in words, null when empty or invalid */
  words: string | null;
  scheduleOk: boolean;
  retriesOk: boolean;
  timeoutOk: boolean;
  priorityOk: boolean;
  /** what still has to be fixed, in words ("a known time zone") */
  blockers: string[];
  ok: boolean;
}

/**
 * The as-you-type validation of a job's fields, one piece shared by every form that makes or
 * changes a job: parameters against their papermill types, the cron expression (in words and
 * through the server's preview), the IANA time zone, retries, timeout and priority.
 */
export function checkJobFields(f: JobFieldsText): JobFieldsCheck {
  const errors: { [name: string]: string | null } = Object.fromEntries(
    (f.params ?? []).map(p => [p.name, parameterError(p, f.values[p.name] ?? '')])
  );
  const invalidParams = Object.values(errors).filter(Boolean).length;
  const zoneOk = isTimeZone(f.timezone);
  const schedule = f.schedule.trim();
  const words = schedule ? cronInWords(schedule) : null;
  const scheduleOk = !schedule || (f.previewError === null && words !== null);
  const retriesOk = /^\d+$/.test(f.retries.trim());
  const timeoutOk = !f.timeout.trim() || Number(f.timeout) > 0;
  const priorityOk = f.priority === undefined || /^[+-]?\d+$/.test(f.priority.trim());
  const nameOk = f.name === undefined || f.name.trim() !== '';
  const blockers = [
    invalidParams ? `${invalidParams} parameter(s) to fix` : '',
    nameOk ? '' : 'a name',
    zoneOk ? '' : 'a known time zone',
    scheduleOk ? '' : 'a valid cron schedule',
    retriesOk ? '' : 'retries: a whole number',
    timeoutOk ? '' : 'timeout: seconds > 0',
    priorityOk ? '' : 'priority: a whole number'
  ].filter(Boolean);
  return {
    errors,
    invalidParams,
    zoneOk,
    words,
    scheduleOk,
    retriesOk,
    timeoutOk,
    priorityOk,
    blockers,
    ok: blockers.length === 0
  };
}

/** The server's next fire times of a cron expression, fetched as the user types (debounced). */
export function useSchedulePreview(
  api: MLInfraAPI,
  schedule: string,
  timezone: string
): { preview: SchedulePreview | null; previewError: Error | null } {
  const [preview, setPreview] = React.useState<SchedulePreview | null>(null);
  const [previewError, setPreviewError] = React.useState<Error | null>(null);
  React.useEffect(() => {
    setPreview(null);
    setPreviewError(null);
    if (!schedule.trim()) {
      return;
    }
    const timer = window.setTimeout(() => {
      api.jobs.schedulePreview(schedule.trim(), timezone).then(setPreview).catch(setPreviewError);
    }, 350);
    return () => window.clearTimeout(timer);
  }, [schedule, timezone]);
  return { preview, previewError };
}

/** One parameter's field, validated against its papermill type as the user types. */
export function ParameterField(p: {
  parameter: NotebookParameter;
  value: string;
  error: string | null;
  onChange: (text: string) => void;
}): JSX.Element {
  const q = p.parameter;
  return (
    <label className="jp-mlinfra-Field" data-parameter={q.name}>
      <span>
        {q.name} <span className="jp-mlinfra-Jobs-muted">{q.inferred_type_name}</span>
      </span>
      {q.inferred_type_name === 'bool' ? (
        <input
          type="checkbox"
          checked={p.value === 'True' || p.value === 'true'}
          onChange={e => p.onChange(e.target.checked ? 'True' : 'False')}
          aria-label={`Parameter ${q.name}`}
        />
      ) : (
        <input
          type="text"
          inputMode={
            q.inferred_type_name === 'int'
              ? 'numeric'
              : q.inferred_type_name === 'float'
                ? 'decimal'
                : 'text'
          }
          value={p.value ?? ''}
          title={q.help || `default ${q.default}`}
          onChange={e => p.onChange(e.target.value)}
          aria-label={`Parameter ${q.name}`}
          aria-invalid={p.error ? true : undefined}
          aria-describedby={p.error ? `mlinfra-param-error-${q.name}` : undefined}
        />
      )}
      {p.error && (
        <span className="jp-mlinfra-FieldError" id={`mlinfra-param-error-${q.name}`} role="alert">
          {p.error}
        </span>
      )}
    </label>
  );
}

/** The cron field (in words, with the next fire times) and the IANA time zone field. */
export function ScheduleFields(p: {
  schedule: string;
  timezone: string;
  onSchedule: (text: string) => void;
  onTimezone: (text: string) => void;
  check: JobFieldsCheck;
  preview: SchedulePreview | null;
  previewError: Error | null;
}): JSX.Element {
  const zones = React.useMemo(timeZoneNames, []);
  return (
    <fieldset className="jp-mlinfra-Jobs-schedule">
      <legend>Schedule</legend>
      <label className="jp-mlinfra-Field">
        <span>Cron</span>
        <input
          placeholder="e.g. 0 6 * * 1-5 (empty: on demand)"
          value={p.schedule}
          onChange={e => p.onSchedule(e.target.value)}
          aria-label="Cron schedule"
        />
      </label>
      <label className="jp-mlinfra-Field">
        <span>Time zone</span>
        <input
          value={p.timezone}
          onChange={e => p.onTimezone(e.target.value)}
          aria-label="Time zone"
          aria-invalid={p.check.zoneOk ? undefined : true}
          list="jp-mlinfra-timezones"
        />
        <datalist id="jp-mlinfra-timezones">
          {zones.map(z => (
            <option key={z} value={z} />
          ))}
        </datalist>
        {!p.check.zoneOk && (
          <span className="jp-mlinfra-FieldError" role="alert">
            unknown time zone (an IANA name, e.g. Europe/Paris)
          </span>
        )}
      </label>
      <div className="jp-mlinfra-Jobs-presets">
        {[
          ['hourly', '0 * * * *'],
          ['daily 06:00', '0 6 * * *'],
          ['weekdays 06:00', '0 6 * * 1-5'],
          ['weekly', '0 6 * * 1']
        ].map(([label, cron]) => (
          <button
            type="button"
            key={label}
            className="jp-mlinfra-LinkButton"
            onClick={() => p.onSchedule(cron)}
          >
            {label}
          </button>
        ))}
      </div>
      {p.check.words && (
        <p className="jp-mlinfra-Jobs-cronWords" aria-label="Schedule in words">
          {p.check.words}
          {p.timezone.trim() ? ` (${p.timezone.trim()})` : ''}
        </p>
      )}
      {p.previewError && <ErrorBanner error={p.previewError} context="Schedule" />}
      {p.preview && (
        <ol className="jp-mlinfra-Jobs-fireTimes" aria-label="Next fire times">
          {p.preview.next_fire_times.map(t => (
            <li key={t}>{formatFireTime(t, p.timezone.trim())}</li>
          ))}
        </ol>
      )}
    </fieldset>
  );
}

export interface JobFormProps {
  api: MLInfraAPI;
  /** The notebook: fixed, or (when null) the one open in the notebook tracker. */
  path?: string | null;
  notebookTracker: INotebookTracker | null;
  /** Other jobs (for "Runs after"). */
  jobs: JobInfo[];
  onChanged: () => void;
  onRun: (id: string) => void;
  onJob?: (name: string) => void;
  /** The heading (default: "New job from the open notebook"). */
  heading?: string;
}

export function JobForm(props: JobFormProps): JSX.Element {
  const { api, notebookTracker } = props;
  const fixed = props.path ?? null;
  const [path, setPath] = React.useState<string | null>(
    fixed ?? notebookTracker?.currentWidget?.context.path ?? null
  );
  const [params, setParams] = React.useState<NotebookParameter[] | null>(null);
  const [hasCell, setHasCell] = React.useState(true);
  const [values, setValues] = React.useState<{ [name: string]: string }>({});
  const [name, setName] = React.useState('');
  const [schedule, setSchedule] = React.useState('');
  const [timezone, setTimezone] = React.useState(localTimezone());
  const [dependsOn, setDependsOn] = React.useState<string[]>([]);
  const [retries, setRetries] = React.useState('0');
  const [timeout, setTimeoutText] = React.useState('');
  const [error, setError] = React.useState<Error | null>(null);
  const [message, setMessage] = React.useState('');

  React.useEffect(() => {
    if (fixed) {
      setPath(fixed);
      return;
    }
    if (!notebookTracker) {
      return;
    }
    const update = () => setPath(notebookTracker.currentWidget?.context.path ?? null);
    notebookTracker.currentChanged.connect(update);
    return () => {
      notebookTracker.currentChanged.disconnect(update);
    };
  }, [notebookTracker, fixed]);

  React.useEffect(() => {
    setParams(null);
    setError(null);
    setMessage('');
    if (!path) {
      return;
    }
    setName(
      path
        .split('/')
        .pop()!
        .replace(/\.ipynb$/, '')
    );
    api.jobs
      .notebookParameters(path)
      .then(info => {
        setParams(info.parameters);
        setHasCell(info.has_parameters_cell);
        setValues(Object.fromEntries(info.parameters.map(p => [p.name, defaultText(p)])));
      })
      .catch(setError);
  }, [path]);

  const { preview, previewError } = useSchedulePreview(api, schedule, timezone);

  const check = checkJobFields({
    params,
    values,
    name,
    timezone,
    schedule,
    previewError,
    retries,
    timeout
  });
  const { errors } = check;
  const runnable = !!path && params !== null && check.invalidParams === 0;
  const creatable = runnable && check.ok;
  const blockers = check.blockers;

  const parameters = () =>
    Object.fromEntries((params ?? []).map(p => [p.name, typedValue(p, values[p.name] ?? '')]));

  const runNow = async () => {
    setError(null);
    setMessage('');
    try {
      const run = await api.jobs.submitRun(path!, parameters());
      setMessage(`Run ${run.id.slice(0, 8)} queued.`);
      props.onRun(run.id);
      props.onChanged();
    } catch (e) {
      setError(e as Error);
    }
  };

  const createJob = async () => {
    setError(null);
    setMessage('');
    try {
      const job = await api.jobs.createJob({
        name,
        notebook: path!,
        parameters: parameters(),
        schedule: schedule.trim() || null,
        timezone: timezone.trim(),
        depends_on: dependsOn,
        retries: Number.parseInt(retries || '0', 10),
        timeout: timeout ? Number.parseFloat(timeout) : null
      });
      setMessage(
        `Job ${job.name} created${job.schedule ? `; next run ${formatTimestamp(job.next_fire_times[0])}` : ''}.`
      );
      props.onChanged();
      props.onJob?.(job.name);
    } catch (e) {
      setError(e as Error);
    }
  };

  return (
    <section className="jp-mlinfra-Section jp-mlinfra-Jobs-form" aria-label="New job">
      <h3>{props.heading ?? 'New job from the open notebook'}</h3>
      {!path ? (
        <p className="jp-mlinfra-Empty">Open a notebook to make it a job.</p>
      ) : (
        <form
          onSubmit={e => {
            e.preventDefault();
            if (creatable) {
              void createJob();
            }
          }}
        >
          <p className="jp-mlinfra-Jobs-muted">{path}</p>
          <label className="jp-mlinfra-Field">
            <span>Name</span>
            <input value={name} onChange={e => setName(e.target.value)} aria-label="Job name" />
          </label>
          <fieldset className="jp-mlinfra-Jobs-params">
            <legend>Parameters</legend>
            {params === null && !error && (
              <p className="jp-mlinfra-Empty">Reading the parameters cell…</p>
            )}
            {params !== null && !hasCell && (
              <p className="jp-mlinfra-Empty">This notebook has no cell tagged “parameters”.</p>
            )}
            {(params ?? []).map(p => (
              <ParameterField
                key={p.name}
                parameter={p}
                value={values[p.name] ?? ''}
                error={errors[p.name]}
                onChange={text => setValues({ ...values, [p.name]: text })}
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
          {props.jobs.length > 0 && (
            <fieldset className="jp-mlinfra-Jobs-deps">
              <legend>Runs after</legend>
              {props.jobs.map(j => (
                <label key={j.id} className="jp-mlinfra-Jobs-dep">
                  <input
                    type="checkbox"
                    checked={dependsOn.includes(j.name)}
                    onChange={e =>
                      setDependsOn(
                        e.target.checked
                          ? [...dependsOn, j.name]
                          : dependsOn.filter(d => d !== j.name)
                      )
                    }
                  />{' '}
                  {j.name}
                </label>
              ))}
            </fieldset>
          )}
          <div className="jp-mlinfra-Toolbar">
            <label className="jp-mlinfra-Field">
              <span>Retries</span>
              <input
                type="number"
                min="0"
                value={retries}
                onChange={e => setRetries(e.target.value)}
                aria-label="Retries"
              />
            </label>
            <label className="jp-mlinfra-Field">
              <span>Timeout (s)</span>
              <input
                type="number"
                min="1"
                value={timeout}
                onChange={e => setTimeoutText(e.target.value)}
                aria-label="Timeout"
              />
            </label>
          </div>
          <ErrorBanner error={error} />
          {message && (
            <p className="jp-mlinfra-Jobs-message" role="status">
              {message}
            </p>
          )}
          <div className="jp-mlinfra-Toolbar">
            <button
              type="button"
              className="jp-mlinfra-Button"
              onClick={() => void runNow()}
              disabled={!runnable}
            >
              Run now
            </button>
            <button type="submit" className="jp-mlinfra-Button jp-mod-accept" disabled={!creatable}>
              Create job
            </button>
          </div>
          {blockers.length > 0 && params !== null && (
            <p className="jp-mlinfra-Muted" aria-label="What is missing">
              Needs {blockers.join(', ')}.
            </p>
          )}
        </form>
      )}
    </section>
  );
}
