/**
 * A small client written against the types openapi-typescript generates from
 * the committed openapi/openapi.json (into ./generated/, by the test that
 * type-checks this file): what a new user's generated client gets. It is
 * type-checked, never run.
 */
import type { operations, paths } from './generated/openapi.js'

type Json<Op extends keyof operations, Status extends number> =
  operations[Op]['responses'] extends Record<Status, { content: { 'application/json': infer T } }> ? T : never

type Message = Json<'sendMessage', 201>
type Page = Json<'listMessages', 200>
type Conversations = Json<'listConversations', 200>

declare function call<Op extends keyof operations> (operationId: Op, input: operations[Op]['parameters'] & { body?: unknown }): Promise<unknown>

export async function example (conversationId: string): Promise<void> {
  // Defaulted query parameters may be left out.
  const page = await call('listMessages', { path: { id: conversationId }, query: {} }) as Page
  const conversations = await call('listConversations', { query: {} }) as Conversations
  await call('searchUsers', { query: { query: 'al' } })
  const sent = await call('sendMessage', { path: { id: conversationId }, header: {}, body: { content: 'hello', clientMessageId: 'c-1' } }) as Message
  const seq: number = sent.seq
  const more: boolean = page.hasMore
  const next: string | null = conversations.nextCursor
  const first: string | undefined = page.items[0]?.content
  void [seq, more, next, first]
}

// Every route the SDK documents is a path here.
export const routes: Array<keyof paths> = [
  '/v1/auth/register', '/v1/auth/login', '/v1/auth/refresh', '/v1/auth/logout',
  '/v1/users/me', '/v1/users', '/v1/users/{id}', '/v1/presence',
  '/v1/conversations', '/v1/conversations/{id}', '/v1/conversations/{id}/participants',
  '/v1/conversations/{id}/messages', '/v1/conversations/{id}/messages/{messageId}', '/v1/conversations/{id}/read',
  '/v1/conversations/{id}/webhooks', '/v1/webhooks/{webhookId}/{token}'
]
