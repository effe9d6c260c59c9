/**
 * `npm run openapi`: writes openapi/openapi.json and openapi/openapi.yaml from
 * the app's route schemas: the same document /docs/json serves.
 */
import { writeFileSync } from 'node:fs'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

/** The document as the app generates it; the embedded adapters suffice, nothing is served. */
export async function generateOpenApi (): Promise<{ json: string, yaml: string }> {
  const app = await buildApp(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', JWT_SECRET: 'o'.repeat(40) }))
  try {
    return { json: `${JSON.stringify(app.swagger(), null, 2)}\n`, yaml: app.swagger({ yaml: true }) }
  } finally {
    await app.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { json, yaml } = await generateOpenApi()
  const dir = new URL('../openapi/', import.meta.url)
  writeFileSync(new URL('openapi.json', dir), json)
  writeFileSync(new URL('openapi.yaml', dir), yaml)
  console.log('wrote openapi/openapi.json and openapi/openapi.yaml')
}
