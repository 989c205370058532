// OpenAPI 3.1 generated from the same zod schemas the routes validate with (zod's own JSON Schema output).
import { z } from 'zod';

import type { RouteDoc } from '../core/module.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });

export function buildOpenApi(routes: RouteDoc[], info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const op: Record<string, unknown> = { summary: r.summary, responses: {} };
    if (r.description) op.description = r.description;
    if (r.scope) op.security = [{ bearer: [r.scope] }];
    if (r.body) op.requestBody = { required: true, content: { [r.bodyType ?? 'application/json']: { schema: schema(r.body) } } };
    for (const [code, resp] of Object.entries(r.responses)) {
      (op.responses as Record<string, unknown>)[code] = { description: resp.description, ...(resp.schema ? { content: { 'application/json': { schema: schema(resp.schema) } } } : {}) };
    }
    (paths[r.path] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token from POST /auth/cc/token' },
        clientBasic: { type: 'http', scheme: 'basic', description: 'client_id:client_secret' },
      },
    },
  };
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A plain HTML rendering of the OpenAPI document: no scripts, no external assets. */
export function renderDocsPage(doc: Record<string, unknown>): string {
  const info = doc.info as { title: string; version: string };
  const paths = doc.paths as Record<string, Record<string, { summary: string; description?: string; security?: unknown; requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, { description: string }> }>>;
  const ops = Object.entries(paths).flatMap(([p, methods]) =>
    Object.entries(methods).map(([m, op]) => {
      const body = op.requestBody ? Object.entries(op.requestBody.content)[0] : undefined;
      return `<section><h2><code>${m.toUpperCase()} ${esc(p)}</code></h2><p>${esc(op.summary)}</p>${op.description ? `<p>${esc(op.description)}</p>` : ''}
${op.security ? `<p><b>Auth:</b> <code>${esc(JSON.stringify(op.security))}</code></p>` : ''}
${body ? `<details open><summary>Request body (${esc(body[0])})</summary><pre>${esc(JSON.stringify(body[1].schema, null, 2))}</pre></details>` : ''}
<ul>${Object.entries(op.responses).map(([c, r]) => `<li><code>${c}</code> ${esc(r.description)}</li>`).join('')}</ul></section>`;
    }),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)} API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}section{border-top:1px solid #ddd;padding:.5rem 0}pre{background:#f5f5f5;padding:.5rem;overflow:auto;font-size:.85em}h2{font-size:1.1rem}</style>
</head><body><h1>${esc(info.title)} <small>${esc(info.version)}</small></h1><p>Machine-readable: <a href="openapi.json">openapi.json</a></p>${ops.join('\n')}</body></html>`;
}
