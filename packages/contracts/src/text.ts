import { z } from 'zod';

/**
 * The rules for text every Tillstream contract and every API edge applies
 * (the HTTP body parser checks every key and string with `textFault`; the
 * contracts' free-text fields check it again with `Text`, so a record that
 * reaches a consumer some other way is held to the same rule):
 *
 * - no control characters: C0 (U+0000-U+001F, tab, line feed and carriage
 *   return included), DEL (U+007F) and C1 (U+0080-U+009F). PostgreSQL refuses
 *   NUL in text (22021) and `\u0000` in jsonb (22P05); the others are never
 *   part of what a till prints (a receipt line is one line) and only hide
 *   what a field says from whoever reads it.
 * - well-formed Unicode only: a lone UTF-16 surrogate (`"\ud800"`) has no
 *   UTF-8 form at all, so a database, a broker or a log would each hold
 *   something else than what was sent (PostgreSQL: 22P05 in jsonb).
 *
 * Anything else is taken as sent, unnormalised: emoji, combining marks,
 * right-to-left text, U+FFFD itself.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export type TextFault = 'control' | 'surrogate';

/** Why `text` breaks the rules for text, or undefined when it keeps them. */
export function textFault(text: string): TextFault | undefined {
  if (CONTROL.test(text)) return 'control';
  if (!(text as string & { isWellFormed(): boolean }).isWellFormed()) return 'surrogate';
  return undefined;
}

/** What is wrong, for a problem's field message: says which rule and where, never repeats the text. */
export function textFaultMessage(fault: TextFault, text: string): string {
  if (fault === 'surrogate') return 'is not well-formed Unicode (it holds a lone UTF-16 surrogate)';
  const at = CONTROL.exec(text);
  const code = (at?.[0].charCodeAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return `holds the control character U+${code} at index ${at?.index ?? 0}; control characters (C0 including tab and line breaks, DEL, C1) are not accepted`;
}

/** A free-text field (a description, a category, a note) of `min`..`max` UTF-16 units that keeps the rules for text. */
export function Text(max: number, min = 1) {
  return z
    .string()
    .min(min)
    .max(max)
    .superRefine((text, ctx) => {
      const fault = textFault(text);
      if (fault) ctx.addIssue({ code: 'custom', message: textFaultMessage(fault, text) });
    });
}
