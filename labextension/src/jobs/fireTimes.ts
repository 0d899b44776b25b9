/** Fire times as people read them: weekday, time in the job's zone, and how far off. */

/** "Mon 06:00 (in 16 h)": a fire time with its weekday, in the job's time zone. */
export function formatFireTime(iso: string, timeZone: string, now = Date.now()): string {
  const date = new Date(iso);
  let text: string;
  try {
    text = new Intl.DateTimeFormat(undefined, {
      timeZone,
      weekday: 'short',
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23'
    }).format(date);
  } catch {
    text = iso;
  }
  return `${text} (${formatIn(date.getTime() - now)})`;
}

export function formatIn(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) {
    return 'now';
  }
  if (minutes < 60) {
    return `in ${minutes} min`;
  }
  const hours = Math.round(minutes / 60);
  if (hours < 48) {
    return `in ${hours} h`;
  }
  return `in ${Math.round(hours / 24)} d`;
}
