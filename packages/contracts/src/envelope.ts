import { z } from 'zod';
import { Identifier } from './pos-transaction.ts';

/**
 * Every record on a Tillstream topic is an envelope around one event. The
 * `schema` names the event type and its major version ("pos.transaction.v1");
 * a breaking change is a new schema id and a new topic, never an edit in place.
 */
export function envelopeOf<S extends z.ZodType, Id extends string>(schemaId: Id, data: S) {
  return z.strictObject({
    schema: z.literal(schemaId),
    /** Unique per event; consumers may use it for tracing, never for deduplication (that is the data's own key). */
    eventId: z.uuid(),
    storeId: Identifier,
    /** Which service produced it, e.g. "ingest". */
    source: z.string().min(1).max(64),
    /** Server time the event was produced. */
    producedAt: z.iso.datetime({ offset: true }),
    data,
  });
}

export type Envelope<T, Id extends string = string> = {
  schema: Id;
  eventId: string;
  storeId: string;
  source: string;
  producedAt: string;
  data: T;
};
