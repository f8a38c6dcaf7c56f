/** Reads GET /api/v1/events as a stream of parsed events for the LwM2M API and CLI tests. */
export interface StreamEvent {
  id: number;
  topic: string;
  type: string;
  data: Record<string, unknown>;
}

export interface EventStream {
  /** The next event matching `match` (earlier non-matching ones are skipped). */
  next(match?: (e: StreamEvent) => boolean): Promise<StreamEvent>;
  close(): void;
}

export async function openEventStream(url: string): Promise<EventStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
  if (res.status !== 200 || res.body === null) throw new Error(`event stream answered ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(match = () => true) {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end !== -1) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          if (data === undefined) continue;
          const event = JSON.parse(data.slice(6)) as StreamEvent;
          if (match(event)) return event;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('event stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    },
    close() {
      abort.abort();
    },
  };
}
