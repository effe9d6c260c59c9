import { readFileSync } from 'node:fs'
import t from 'tap'
import { validate } from '@readme/openapi-parser'
import { generateOpenApi } from '../scripts/openapi.js'
import { buildTestApp } from './helper.js'

const committed = (file: string) => readFileSync(new URL(`../openapi/${file}`, import.meta.url), 'utf8')

t.test('the committed documents are what the code generates (run npm run openapi)', async (t) => {
  const { json, yaml } = await generateOpenApi()
  t.equal(committed('openapi.json'), json, 'openapi/openapi.json is current')
  t.equal(committed('openapi.yaml'), yaml, 'openapi/openapi.yaml is current')
})

t.test('the document is valid OpenAPI 3', async (t) => {
  const result = await validate(JSON.parse(committed('openapi.json')))
  t.equal(result.valid, true, result.valid ? 'valid' : JSON.stringify(result.errors).slice(0, 2000))
})

t.test('every route is documented; protected ones carry the bearer scheme and a 401', async (t) => {
  const built = await buildTestApp(t)
  if (built === undefined) return
  const doc = built.app.swagger() as unknown as { paths: Record<string, Record<string, { security?: unknown[], responses: Record<string, unknown>, tags?: string[], summary?: string }>> }
  const expected: Array<[string, string, boolean]> = [
    ['post', '/v1/auth/register', false],
    ['post', '/v1/auth/login', false],
    ['post', '/v1/auth/refresh', false],
    ['post', '/v1/auth/logout', false],
    ['get', '/v1/users/me', true],
    ['patch', '/v1/users/me', true],
    ['get', '/v1/users', true],
    ['get', '/v1/users/{id}', true],
    ['get', '/health/live', false],
    ['get', '/health/ready', false]
  ]
  expected.push(['post', '/v1/conversations/{id}/attachments', true], ['get', '/v1/attachments/{id}', true], ['get', '/v1/attachments/{id}/thumbnail', true])
  for (const [method, path, secured] of expected) {
    const op = doc.paths[path]?.[method]
    t.ok(op, `${method} ${path} is documented`)
    if (op === undefined) continue
    t.ok(op.tags?.length && op.summary, `${method} ${path} has a tag and a summary`)
    t.equal(op.security !== undefined, secured, `${method} ${path} security`)
    if (secured) t.ok(op.responses['401'], `${method} ${path} documents 401`)
    t.ok(op.responses['400'] ?? path.startsWith('/health'), `${method} ${path} documents 400`)
  }
})

t.test('every operation has a description, a success response schema, and the error answers', async (t) => {
  const doc = JSON.parse(committed('openapi.json')) as { paths: Record<string, Record<string, { description?: string, responses?: Record<string, { content?: unknown }> }>> }
  let operations = 0
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      operations++
      const codes = Object.keys(op.responses ?? {})
      const success = codes.filter((c) => c.startsWith('2'))
      t.ok(op.description, `${method} ${path} has a description`)
      t.ok(success.length > 0, `${method} ${path} documents its success answer`)
      for (const c of success) if (c !== '204') t.ok(op.responses![c]!.content, `${method} ${path} ${c} has a schema`)
      if (!path.startsWith('/health')) for (const c of ['400', '500']) t.ok(codes.includes(c), `${method} ${path} documents ${c}`)
    }
  }
  t.ok(operations >= 28, `${operations} operations`)
})

t.test('uploads are documented as multipart with a binary file part; downloads as bytes, signed link or bearer token', async (t) => {
  const doc = JSON.parse(committed('openapi.json')) as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { required?: string[], properties: Record<string, { format?: string }> } }> }, security?: unknown[], responses: Record<string, { content?: Record<string, unknown> }>, parameters?: Array<{ name: string }> }>> }
  const upload = doc.paths['/v1/conversations/{id}/attachments']!.post!
  const form = upload.requestBody!.content['multipart/form-data']!.schema
  t.same(form.required, ['file'])
  t.equal(form.properties.file!.format, 'binary')
  t.ok(upload.responses['201']!.content, 'the upload answered')
  t.ok(upload.responses['413'], 'and 413 documented')
  const download = doc.paths['/v1/attachments/{id}']!.get!
  t.same(download.security, [{}, { bearerAuth: [] }], 'no credentials (a signed link) or a bearer token')
  t.ok(download.responses['206'] && download.responses['304'] && download.responses['403'] && download.responses['404'], 'partial, not modified, refused, unknown')
  t.same(download.parameters!.map((p) => p.name).sort(), ['expires', 'id', 'signature'])
})

t.test('the documents state the limits the server runs with (MESSAGE_MAX_LENGTH, MESSAGE_MAX_ATTACHMENTS)', async (t) => {
  const built = await buildTestApp(t, { env: { MESSAGE_MAX_LENGTH: '50', MESSAGE_MAX_ATTACHMENTS: '3' } })
  if (built === undefined) return
  const doc = built.app.swagger() as unknown as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, { maxLength?: number, maxItems?: number }> } }> } }>> }
  const body = (path: string, method: string) => doc.paths[path]![method]!.requestBody!.content['application/json']!.schema.properties
  for (const [path, method] of [['/v1/conversations/{id}/messages', 'post'], ['/v1/webhooks/{webhookId}/{token}', 'post']] as const) {
    t.equal(body(path, method).content!.maxLength, 50, `${method} ${path}: content`)
    t.equal(body(path, method).attachments!.maxItems, 3, `${method} ${path}: attachments`)
  }
  t.equal(body('/v1/conversations/{id}/messages/{messageId}', 'patch').content!.maxLength, 50, 'an edit too')
  const asyncapi = (await built.app.inject('/docs/asyncapi.yaml')).body
  t.match(asyncapi, /maxLength: 50/, 'and the send_message frame of the AsyncAPI document')
})
