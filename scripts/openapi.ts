/**
 * `npm run openapi`: writes openapi/openapi.json and openapi/openapi.yaml from
 * the app's route schemas (the same document /docs/json serves), and
 * openapi/asyncapi.yaml from the websocket protocol's schemas (/docs/asyncapi.yaml).
 */
import { writeFileSync } from 'node:fs'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

/** The document as the app generates it; the embedded adapters suffice, nothing is served. */
export async function generateOpenApi (): Promise<{ json: string, yaml: string, asyncapi: string }> {
  const app = await buildApp(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', JWT_SECRET: 'o'.repeat(40) }))
  try {
    const asyncapi = (await app.inject('/docs/asyncapi.yaml')).body
    return { json: `${JSON.stringify(app.swagger(), null, 2)}\n`, yaml: app.swagger({ yaml: true }), asyncapi }
  } finally {
    await app.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { json, yaml, asyncapi } = await generateOpenApi()
  const dir = new URL('../openapi/', import.meta.url)
  writeFileSync(new URL('openapi.json', dir), json)
  writeFileSync(new URL('openapi.yaml', dir), yaml)
  writeFileSync(new URL('asyncapi.yaml', dir), asyncapi)
  console.log('wrote openapi/openapi.json, openapi/openapi.yaml and openapi/asyncapi.yaml')
}
