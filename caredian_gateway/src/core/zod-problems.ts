import type { z } from 'zod';

/** One line per problem, naming the field ("prob: must be between 0 and 1"); never the value. */
export function zodProblems(err: z.ZodError): string[] {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`);
}
