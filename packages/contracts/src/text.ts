import { z } from 'zod';

/**
 * The rules for text, in two strengths:
 *
 * - **printable** (what every API edge takes from now on: the HTTP body
 *   parser checks every key and string of every JSON body with
 *   `textFault(text)`): no control characters, i.e. C0 (U+0000-U+001F, tab,
 *   line feed and carriage return included), DEL (U+007F) and C1
 *   (U+0080-U+009F), and well-formed Unicode only. A POS field is one printed
 *   line; a control character only hides what a field says from whoever
 *   reads it.
 * - **storable** (what the contract schemas' free-text fields require, `Text`,
 *   and `textFault(text, 'storable')`): no NUL and no lone UTF-16 surrogate,
 *   the two things PostgreSQL cannot hold as sent: NUL in text is 22021,
 *   `\u0000` in jsonb 22P05, a lone surrogate (`"\ud800"`) has no UTF-8 form
 *   (22P02 in jsonb, U+FFFD in text). Every consumer dead-lettered such a
 *   record after ingest had answered 201. The schemas stop there because
 *   they also validate what is already on the topics: a v1 record taken
 *   before the edge became printable-only (a tab in a description) was booked
 *   then and must still be booked on a replay, not dead-lettered.
 *
 * Anything else is taken as sent, unnormalised: any script, emoji, combining
 * marks, right-to-left text, U+FFFD itself.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export type TextFault = 'control' | 'nul' | 'surrogate';
export type TextRule = 'printable' | 'storable';

/** Why `text` breaks `rule` (default printable), or undefined when it keeps it. */
export function textFault(text: string, rule: TextRule = 'printable'): TextFault | undefined {
  if (rule === 'printable' ? CONTROL.test(text) : text.includes('\u0000')) return rule === 'printable' ? 'control' : 'nul';
  if (!(text as string & { isWellFormed(): boolean }).isWellFormed()) return 'surrogate';
  return undefined;
}

/** What is wrong, for a problem's field message: says which rule and where, never repeats the text. */
export function textFaultMessage(fault: TextFault, text: string): string {
  if (fault === 'surrogate') return 'is not well-formed Unicode (it holds a lone UTF-16 surrogate)';
  if (fault === 'nul') return `holds the NUL character U+0000 at index ${text.indexOf('\u0000')}, which cannot be stored`;
  const at = CONTROL.exec(text);
  const code = (at?.[0].charCodeAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return `holds the control character U+${code} at index ${at?.index ?? 0}; control characters (C0 including tab and line breaks, DEL, C1) are not accepted`;
}

/** A free-text field (a description, a category, a note) of `min`..`max` UTF-16 units that PostgreSQL can store as sent. */
export function Text(max: number, min = 1) {
  return z
    .string()
    .min(min)
    .max(max)
    .superRefine((text, ctx) => {
      const fault = textFault(text, 'storable');
      if (fault) ctx.addIssue({ code: 'custom', message: textFaultMessage(fault, text) });
    });
}
